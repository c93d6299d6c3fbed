"""The first steps of a shipped config, the step ``cnnjax train`` runs, for hand-vs-autodiff
loss comparisons (tests/test_train.py, tests/test_denoise.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnjax.config import load_config
from cnnjax.data import epoch_batches
from cnnjax.steps import compiled_steps, step_key
from cnnjax.train import build_experiment


def first_step_losses(path: Path, sets: list[str], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(losses, metrics)`` of the first ``steps`` steps of epoch 1 of ``path`` with ``sets``
    (batch order and keys as in training)."""
    config = load_config(path, sets)
    exp = build_experiment(config)
    train_step, _ = compiled_steps(config, exp)
    params, state, opt_state = exp.params, exp.state, exp.opt_state
    batch = config.train.batch_size
    batches = epoch_batches(
        exp.data.train_images, exp.data.train_labels, batch, seed=config.seed, epoch=1
    )
    losses, metrics = [], []
    for step, (x, y) in zip(range(steps), batches, strict=False):
        key = step_key(config.seed, 1, step)
        params, state, opt_state, loss, metric = train_step(params, state, opt_state, x, y, key)
        losses.append(float(loss))
        metrics.append(float(metric))
    return np.array(losses), np.array(metrics)
