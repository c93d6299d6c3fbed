"""Where a run starts: fresh, staged over an earlier run, resumed from its checkpoint, or
already finished; and what may change between a run and its ``--resume``.

Resume semantics: ``--resume`` continues the same run to ``train.epochs``. Every setting but
those in :data:`RESUMABLE_CHANGES` must equal the checkpoint's (a changed one is refused,
named, before any data loads); a larger ``train.epochs`` extends the run (the schedule is
re-resolved, with a warning), a smaller one than the epochs done is refused, and a finished
run is reported and left byte-for-byte unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cnnjax import config as cfgmod
from cnnjax import distributed
from cnnjax.checkpoint import CheckpointError, load_checkpoint, require_meta
from cnnjax.config import ExperimentConfig
from cnnjax.experiment import Experiment, flatten
from cnnjax.rundir import staging_dir

__all__ = ["CHECKPOINT", "OUTPUTS", "RESUMABLE_CHANGES", "Plan", "check_resumable", "plan_run"]

CHECKPOINT = "checkpoint.npz"
# What a run writes into its folder (a staged run replaces exactly these).
OUTPUTS = (
    "metrics.jsonl",
    "summary.json",
    "config.toml",
    "curves.png",
    "grad_norms.png",
    "denoise.png",
    CHECKPOINT,
)

# Keys that may change between a run and its ``--resume`` (everything else must match).
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.eval_batch_size",
    "train.devices",
    "output.",
    "distributed.",
)


class Plan(NamedTuple):
    """Where a run starts: its carry and history, the staging folder of a new run (None when
    resuming into ``out``), and whether it has nothing left to do."""

    carry: Any
    history: list
    stage: Path | None
    finished: bool


def plan_run(
    out: Path, exp: Experiment, config, *, resume: bool, overwrite: bool, verbose: bool
) -> Plan:
    """Decide, on the main process, how the run in ``out`` starts; the same plan everywhere.

    A resume with a checkpoint continues from it (checked by :func:`check_resumable`); a
    resume without one starts fresh; a fresh start into a folder holding a run needs
    ``overwrite``, and then stages (:func:`cnnjax.rundir.staging_dir`) until epoch 1 ends.

    Raises:
        CheckpointError: the folder holds a run that may not be overwritten, or outputs
            without a checkpoint to resume, or a checkpoint that cannot continue.
    """
    carry, history, stage, finished = None, [], None, False
    if distributed.is_main_process():
        carry, history, stage, finished = _plan_main(out, exp, config, resume, overwrite, verbose)
    if carry is None:
        carry = distributed.to_host((exp.params, exp.state, exp.opt_state))
    history = distributed.broadcast_json(history)
    finished = distributed.broadcast_json(finished)
    return Plan(distributed.broadcast_from_main(carry), history, stage, finished)


def _plan_main(out: Path, exp, config, resume: bool, overwrite: bool, verbose: bool):
    ckpt = out / CHECKPOINT
    earlier = [name for name in OUTPUTS if (out / name).exists()]
    if resume and ckpt.exists():
        carry, history = restore(ckpt, exp, config)
        done = len(history)
        if done == config.train.epochs:
            return carry, history, None, True
        if verbose:
            print(
                f"resuming {out} at epoch {done + 1}/{config.train.epochs} (checkpoint of "
                f"epoch {done})",
                file=sys.stderr,
            )
        return carry, history, None, False
    if earlier and resume:
        raise CheckpointError(
            f"{out} holds {', '.join(earlier)} but no {CHECKPOINT} to resume from; pass "
            "--overwrite to replace it, or --out for another directory"
        )
    if earlier and not overwrite:
        raise CheckpointError(
            f"{out} already holds a run ({', '.join(earlier)}); pass --resume to continue it, "
            "--overwrite to replace it, or --out for another directory"
        )
    if resume and verbose:
        print(f"no checkpoint in {out}, starting from epoch 1", file=sys.stderr)
    return None, [], staging_dir(out), False


def restore(ckpt: Path, exp: Experiment, config: ExperimentConfig):
    """The checkpoint's carry and history, after checking it may continue under ``config``."""
    templates = {"params": exp.params, "state": exp.state, "opt_state": exp.opt_state}
    trees, meta = load_checkpoint(ckpt, templates)
    check_resumable(ckpt, meta, config)
    return tuple(trees[k] for k in templates), list(meta["history"])


def check_resumable(
    ckpt: Path, meta: Mapping[str, Any], config: ExperimentConfig, *, warn: bool = True
) -> None:
    """Raise a ``CheckpointError`` unless the run of ``meta`` may continue under ``config``:
    the same settings but the resumable ones, and no fewer epochs than it has done."""
    require_meta(ckpt, meta, ("epoch", "history", "config"))
    # A checkpoint from before ``[task]`` existed has no task keys: it was a classifier.
    was = {**flatten(cfgmod.to_dict(cfgmod.TaskConfig()), "task."), **flatten(meta["config"])}
    now = flatten(cfgmod.to_dict(config))
    changed = [
        f"`{k}` was {was.get(k)!r} and is now {now.get(k)!r}"
        for k in sorted(set(was) | set(now))
        if was.get(k) != now.get(k) and not k.startswith(RESUMABLE_CHANGES)
    ]
    if changed:
        raise CheckpointError(
            f"{ckpt}: cannot resume with other settings: {'; '.join(changed)} "
            "(only train.epochs, train.eval_batch_size, train.devices, output.* and "
            "distributed.* may change; use --out for a new run)"
        )
    done, epochs = len(meta["history"]), config.train.epochs
    if done != meta["epoch"]:
        raise CheckpointError(
            f"{ckpt}: damaged metadata: epoch {meta['epoch']} but {done} history records"
        )
    if epochs < done:
        raise CheckpointError(
            f"{ckpt}: cannot resume to `train.epochs`={epochs}: the run has done "
            f"{done} epochs (a resume never drops epochs; use --out for a new run)"
        )
    first = was.get("train.epochs")
    if warn and epochs > done and first != epochs and config.optimizer.schedule is not None:
        print(
            f"cnnjax: warning: extending the run from {first} to {epochs} epochs: the "
            "learning-rate schedule is resolved for the new length from here on",
            file=sys.stderr,
        )
