"""``evaluate_checkpoint``: score a saved run on the test split it was trained with."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax import config as cfgmod
from cnnjax.checkpoint import load_checkpoint, require_meta
from cnnjax.config import ConfigError, ExperimentConfig
from cnnjax.experiment import build_experiment, flatten
from cnnjax.steps import evaluate, make_eval_step


def evaluate_checkpoint(
    config: ExperimentConfig, path: str | Path, *, other_data: bool = False
) -> dict[str, Any]:
    """Evaluate a saved checkpoint on the test split it was trained with.

    The checkpoint's metadata holds the run's config: its ``[data]`` settings (data set,
    split seed, test fraction, ...) must equal ``config``'s, else a ``ConfigError`` names the
    keys that differ, unless ``other_data`` (then a warning says so and ``config``'s data is
    used). The data is normalised with the statistics stored in the checkpoint
    (``normalize="fixed"``). Non-finite parameters give a warning on stderr. The config's
    ``[task]`` says what is scored (:mod:`cnnjax.tasks`): a denoiser on the same fixed noisy
    test images as in training.

    Returns:
        ``metric`` (the task's: ``"accuracy"`` or ``"mse"``), ``test_loss`` and
        ``test_accuracy`` (classify) or ``test_mse`` and ``noisy_mse`` (denoise: the noisy
        input's own MSE), ``epoch``, ``num_test`` and ``non_finite`` (the number of NaN/Inf
        parameter values).
    """
    _, meta = load_checkpoint(path, {})
    require_meta(path, meta, ("epoch", "config", "normalization"))
    _check_eval_data(config, meta["config"], path, other_data)
    options = {**config.data.options, "normalize": "fixed", **meta["normalization"]}
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, options=options))
    exp = build_experiment(config)
    templates = {"params": exp.params, "state": exp.state}
    trees, meta = load_checkpoint(path, templates)
    params, state = (jax.tree.map(jnp.asarray, trees[k]) for k in templates)
    bad = sum(int(np.size(x) - np.isfinite(x).sum()) for x in jax.tree.leaves(trees["params"]))
    if bad:
        print(
            f"cnnjax eval: warning: {path} holds {bad} NaN/Inf parameter values; "
            "the scores below are not meaningful",
            file=sys.stderr,
        )
    task = exp.task
    loss, score = evaluate(
        make_eval_step(exp.model, exp.ops, task=task),
        params,
        state,
        *task.test_arrays(exp.data),
        config.train.eval_batch_size,
    )
    return {
        "metric": task.metric,
        **task.record(loss, score, "test"),
        **task.baseline(exp.data),
        "epoch": meta.get("epoch"),
        "num_test": int(exp.data.test_images.shape[0]),
        "non_finite": bad,
    }


def _check_eval_data(config: ExperimentConfig, trained: Mapping, path, other_data: bool) -> None:
    was = flatten(trained.get("data", {}), "data.")
    now = flatten(cfgmod.to_dict(config.data), "data.")
    changed = [
        f"`{k}` was {was.get(k)!r}, is {now.get(k)!r}"
        for k in sorted(set(was) | set(now))
        if was.get(k) != now.get(k)
    ]
    if not changed:
        return
    message = (
        f"differs from the data {path} was trained with ({'; '.join(changed)}), so the test "
        "split may hold training images"
    )
    if not other_data:
        raise ConfigError(config.source, "data", f"{message}; pass --other-data to score anyway")
    print(f"cnnjax eval: warning: `data` {message}", file=sys.stderr)
