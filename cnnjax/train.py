"""The training run: ``train_and_evaluate(config, workdir)``, callable from a notebook too.

It builds the experiment from a config, runs the jitted step of :mod:`cnnjax.steps` (the op
set, ``cnnjax.ops`` with hand VJPs or ``cnnjax.reference`` with JAX autodiff, is picked by
``train.grad``) and writes metrics, checkpoints and curves.
Everything random is derived from the seed: the init key, the batch order
(``epoch_batches(seed=, epoch=)``) and each step's key (``fold_in(fold_in(key, epoch), step)``),
so one seed gives the same metrics on one machine, and a run resumed from its end-of-epoch
checkpoint ends exactly where the uninterrupted run does.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax import config as cfgmod
from cnnjax import distributed
from cnnjax.checkpoint import load_checkpoint, save_checkpoint
from cnnjax.config import ConfigError, ExperimentConfig
from cnnjax.distributed import Placement, host_batches
from cnnjax.evaluation import evaluate_checkpoint
from cnnjax.experiment import Experiment, build_experiment, make_optimizer, probe_optimizer
from cnnjax.metrics import (
    ProgressBar,
    format_epoch,
    mean_grad_norms,
    plot_curves,
    plot_grad_norms,
    write_metrics,
    write_text_atomic,
)
from cnnjax.resume import CHECKPOINT, OUTPUTS, Plan, check_resumable, plan_run
from cnnjax.rundir import RunLock, check_writable, commit_staging
from cnnjax.steps import compiled_steps, evaluate, step_key

# Re-exported: the experiment and the evaluation live in their own modules.
__all__ = [
    "Experiment",
    "NonFiniteLossError",
    "build_experiment",
    "evaluate_checkpoint",
    "make_optimizer",
    "placement_for",
    "probe_optimizer",
    "train_and_evaluate",
    "train_epoch",
]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf; the message names the step."""


def _check_finite(losses: list, checked: int, epoch: int, steps_per_epoch: int, bar) -> int:
    """Raise at the first non-finite loss after ``losses[checked]``; return ``len(losses)``."""
    if len(losses) > checked:
        values = np.asarray(jnp.stack(losses[checked:]))
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            bar.close()
            step = checked + int(bad[0]) + 1
            raise NonFiniteLossError(
                f"loss is {values[bad[0]]} at epoch {epoch}, step {step} "
                f"(global step {(epoch - 1) * steps_per_epoch + step}); training stopped"
            )
    return len(losses)


def train_epoch(exp: Experiment, config, carry, epoch: int, *, train_step, placement: Placement):
    """One epoch; returns the new ``(params, state, opt_state)`` and the epoch's metrics.

    ``steps`` counts this epoch's steps; ``compile_seconds`` is the time spent compiling the
    step (ahead of its first call; near 0 once compiled), not counted in ``train_seconds``
    or ``images_per_second``.

    Each process reads only its rows of every global batch (``host_batches``); they are
    assembled into one batch sharded over ``placement``'s devices.

    Raises:
        NonFiniteLossError: at the first step whose loss is NaN or Inf.
    """
    params, state, opt_state = carry
    t = config.train
    bar = ProgressBar(exp.steps_per_epoch, f"epoch {epoch}/{t.epochs}")
    losses, scores, norms, checked, images, compile_seconds = [], [], [], 0, 0, 0.0
    start = time.perf_counter()
    batches = host_batches(
        exp.data.train_images,
        exp.data.train_labels,
        t.batch_size,
        placement,
        seed=config.seed,
        epoch=epoch,
        augment=config.data.augment,
    )
    for step, (x, y) in enumerate(batches):
        key = placement.replicate(step_key(config.seed, epoch, step))
        x, y = placement.from_local(x, t.batch_size), placement.from_local(y, t.batch_size)
        if step == 0:  # compile ahead of time (cached by JAX), timed apart from the steps
            tic = time.perf_counter()
            train_step = train_step.lower(params, state, opt_state, x, y, key).compile()
            compile_seconds = time.perf_counter() - tic
        params, state, opt_state, loss, score, *step_norms = train_step(
            params, state, opt_state, x, y, key
        )
        losses.append(loss)
        scores.append(score)
        norms += step_norms  # [] unless output.grad_stats: one {layer: norm} per step
        images += x.shape[0]
        if (step + 1) % 20 == 0:
            checked = _check_finite(losses, checked, epoch, exp.steps_per_epoch, bar)
            bar.update(step + 1 - bar.count, loss=float(losses[-1]))
    _check_finite(losses, checked, epoch, exp.steps_per_epoch, bar)
    bar.close()
    seconds = time.perf_counter() - start - compile_seconds
    mean_loss, mean_score = (
        float(np.mean(np.asarray(jnp.stack(v), np.float64))) for v in (losses, scores)
    )
    metrics = {
        **exp.task.record(mean_loss, mean_score, "train"),  # train_loss (and train_accuracy)
        "steps": len(losses),
        "compile_seconds": compile_seconds,
        "train_seconds": seconds,
        "images_per_second": images / seconds,
    }
    if norms:
        metrics["grad_norms"] = mean_grad_norms(norms)
    return (params, state, opt_state), metrics


def train_and_evaluate(
    config: ExperimentConfig,
    workdir: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    verbose: bool = True,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> dict[str, Any]:
    """Train ``config`` and evaluate after every epoch; return the summary.

    Writes to ``workdir`` (default ``config.output.dir`` or ``runs/<name>``):
    ``metrics.jsonl`` (one JSON object per epoch), ``summary.json``, ``config.toml`` (the
    resolved config), ``curves.png`` and ``checkpoint.npz`` (after every epoch, atomically);
    with ``output.grad_stats``, each epoch's record also has ``grad_norms`` and
    ``grad_norms.png`` plots them.

    Everything that can be checked is checked before the folder is touched: that it is
    writable, the config, the data, the model, the optimizer (one eager update on the real
    parameters). The folder is locked for the run (:class:`cnnjax.rundir.RunLock`). A new run
    (fresh or ``overwrite``) writes into a staging folder and replaces an earlier run only at
    its first checkpoint, at the end of epoch 1; a start that fails before leaves the earlier
    run, or no folder at all, as it was.

    ``resume`` continues the run in ``workdir`` to ``train.epochs``: every other setting must
    be what the checkpoint was trained with (``train.eval_batch_size``, ``train.devices``,
    ``output.*`` and ``distributed.*`` may change); a larger ``train.epochs`` extends the run
    (a schedule is then resolved for the new length: a warning says so), a smaller one than
    the epochs done is refused, and a finished run is reported and left unchanged.

    Args:
        config: the experiment.
        workdir: the output directory.
        resume: continue from ``checkpoint.npz`` (a fresh start when the folder holds no run).
        overwrite: replace an earlier run's outputs in ``workdir``.
        verbose: print one line per epoch to stdout (and a progress bar on a terminal).
        on_epoch_end: called as ``on_epoch_end(epoch, record)`` after each checkpoint.

    Returns:
        The summary: ``test_accuracy``, ``test_loss``, ``epochs``, ``total_steps``,
        ``wall_seconds``, ``compile_seconds``, ``images_per_second``, ``config`` and more.

    Raises:
        ConfigError: the data, model or optimizer do not fit the config.
        CheckpointError: an earlier run would be overwritten, the checkpoint is damaged or
            does not fit the config.
        RunDirError: the folder is not writable, is a file, or another run holds it.
        NonFiniteLossError: the loss became NaN/Inf (the last good checkpoint is kept).
    """
    start = time.perf_counter()
    _initialize_distributed(config)  # before anything else touches JAX
    main = distributed.is_main_process()
    out = Path(workdir or config.output.dir or Path("runs") / config.name)
    if main:
        check_writable(out)
        if resume and (out / CHECKPOINT).is_file():  # refuse before loading any data
            check_resumable(
                out / CHECKPOINT, load_checkpoint(out / CHECKPOINT, {})[1], config, warn=False
            )
    exp = build_experiment(config)
    probe_optimizer(exp, config)
    placement = placement_for(config)
    with RunLock(out) if main else contextlib.nullcontext():
        plan = plan_run(out, exp, config, resume=resume, overwrite=overwrite, verbose=verbose)
        if plan.finished:
            summary = _finished(out, config, exp, plan.history, plan.carry) if main else None
            return distributed.broadcast_json(summary)
        try:
            history, carry = _train(
                out, exp, config, plan, placement, verbose and main, on_epoch_end
            )
        finally:
            if plan.stage is not None:
                shutil.rmtree(plan.stage, ignore_errors=True)
    previous = sum(r["epoch_seconds"] for r in plan.history)
    wall = previous + time.perf_counter() - start
    return _finish(out, config, exp, history, wall, carry, write=main)


def _initialize_distributed(config: ExperimentConfig) -> None:
    try:
        distributed.initialize(config.distributed)
    except ValueError as e:
        raise ConfigError(config.source, "distributed", str(e)) from None


def placement_for(config: ExperimentConfig) -> Placement:
    """The devices of ``train.devices``; their errors as ``ConfigError`` naming the key."""
    try:
        placement = distributed.make_placement(config.train.devices)
    except ValueError as e:
        raise ConfigError(config.source, "train.devices", str(e)) from None
    try:
        distributed.check_batch_size(config.train.batch_size, placement)
    except ValueError as e:
        raise ConfigError(config.source, "train.batch_size", str(e)) from None
    return placement


def _finished(out: Path, config, exp, history: list, carry) -> dict[str, Any]:
    """A resumed run with no epochs left: its summary, files untouched (written only when
    the run was killed between its last checkpoint and its summary)."""
    print(f"{out}: the run has finished all {len(history)} epochs; nothing to do", file=sys.stderr)
    try:
        summary = json.loads((out / "summary.json").read_text())
        if summary.get("epochs") == len(history):
            return summary
    except (OSError, ValueError):
        pass
    wall = sum(r["epoch_seconds"] for r in history)
    return _finish(out, config, exp, history, wall, carry, write=True)


def _train(out, exp, config, plan: Plan, placement, verbose: bool, on_epoch_end):
    """The epochs from the plan's last one to ``train.epochs``; returns the whole history
    and the last carry ``(params, state, opt_state)``."""
    main = distributed.is_main_process()
    carry, history, stage = placement.replicate(plan.carry), list(plan.history), plan.stage
    train_step, eval_step = compiled_steps(config, exp, placement)
    test_inputs, test_targets = exp.task.test_arrays(exp.data)  # denoise: fixed noisy images
    for epoch in range(len(history) + 1, config.train.epochs + 1):
        epoch_start = time.perf_counter()
        try:
            carry, record = train_epoch(
                exp, config, carry, epoch, train_step=train_step, placement=placement
            )
        except NonFiniteLossError:
            if main and history:
                _plot(out, config, history)
            raise
        test_loss, test_score = evaluate(
            eval_step,
            carry[0],
            carry[1],
            test_inputs,
            test_targets,
            config.train.eval_batch_size,
            placement,
        )
        record = {"epoch": epoch, "epochs": config.train.epochs, **record}
        record.update(exp.task.record(test_loss, test_score, "test"))
        record["epoch_seconds"] = time.perf_counter() - epoch_start
        history.append(record)
        trees = dict(zip(("params", "state", "opt_state"), distributed.to_host(carry), strict=True))
        if main:
            _save_epoch(stage or out, config, exp, trees, history)
            if stage is not None:
                commit_staging(stage, out, OUTPUTS, CHECKPOINT)
                stage = None
        if verbose:
            print(format_epoch(record), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    return history, carry


def _save_epoch(folder: Path, config, exp: Experiment, trees, history: list) -> None:
    """The checkpoint first (what a resume trusts), then the metrics and config it agrees with."""
    d = exp.data
    meta = {
        "epoch": history[-1]["epoch"],
        "history": history,
        "config": cfgmod.to_dict(config),
        "normalization": {"mean": list(d.mean), "std": list(d.std)},
    }
    save_checkpoint(folder / CHECKPOINT, trees, meta)
    write_metrics(folder / "metrics.jsonl", history)
    write_text_atomic(folder / "config.toml", cfgmod.to_toml(config))


def _title(config: ExperimentConfig) -> str:
    return f"{config.name} ({config.train.grad} VJPs)"


def _finish(out: Path, config, exp, history: list, wall: float, carry, *, write: bool) -> dict:
    """The summary; on the writing process also the metrics, the pictures and, last (so a
    summary on disk means the run's files are complete), ``summary.json``."""
    last = history[-1]
    train_seconds = sum(r["train_seconds"] for r in history)
    images = sum(r["steps"] for r in history) * config.train.batch_size
    baseline = exp.task.baseline(exp.data)  # denoise: noisy_mse, the noisy input's
    summary = {
        "name": config.name,
        **exp.task.summary(history),  # test_accuracy, ... or test_mse, best_test_mse
        **baseline,
        "epochs": last["epoch"],
        "total_steps": sum(r["steps"] for r in history),
        "wall_seconds": wall,
        "compile_seconds": sum(r.get("compile_seconds", 0.0) for r in history),
        "images_per_second": images / train_seconds,
        "num_params": int(sum(np.size(x) for x in jax.tree.leaves(exp.params))),
        "workdir": str(out),
        "config": cfgmod.to_dict(config),
    }
    if not write:  # another process than 0: same summary, nothing written
        return summary
    write_metrics(out / "metrics.jsonl", history)
    _plot(out, config, history, baselines={k.replace("_", " "): v for k, v in baseline.items()})
    if config.output.plot:  # denoise.png: clean / noisy / reconstructed test digits
        exp.task.plot_examples(out, exp, *distributed.to_host(carry)[:2], title=_title(config))
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _plot(out: Path, config: ExperimentConfig, history: list, baselines=None) -> None:
    """``curves.png`` (with ``baselines``: the noisy input's MSE of a denoiser), and
    ``grad_norms.png`` when some epoch logged gradient norms."""
    if not config.output.plot:
        return
    plot_curves(out / "curves.png", history, _title(config), baselines=baselines)
    if any("grad_norms" in r for r in history):
        plot_grad_norms(out / "grad_norms.png", history, _title(config))
