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

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnnjax import config as cfgmod
from cnnjax import distributed
from cnnjax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cnnjax.config import ConfigError, ExperimentConfig
from cnnjax.distributed import Placement, host_batches
from cnnjax.metrics import ProgressBar, format_epoch, plot_curves, write_metrics, write_text_atomic
from cnnjax.steps import compiled_steps, evaluate, make_eval_step, step_key

CHECKPOINT = "checkpoint.npz"
OUTPUTS = ("metrics.jsonl", "summary.json", "config.toml", "curves.png", CHECKPOINT)
# Keys that may change between a run and its ``--resume`` (everything else must match).
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.eval_batch_size",
    "train.devices",
    "output.",
    "distributed.",
)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf; the message names the step."""


class Experiment(NamedTuple):
    """Everything built from a config before the first step."""

    data: Any  # cnnjax.data.Dataset
    model: Any  # cnnjax.nn.Layer
    ops: Any  # cnnjax.ops or cnnjax.reference
    optimizer: optax.GradientTransformation
    params: Any
    state: Any
    opt_state: Any
    num_classes: int
    steps_per_epoch: int


def build_experiment(config: ExperimentConfig) -> Experiment:
    """Load the data, build and initialise the model and the optimizer for ``config``."""
    from cnnjax import nn, ops, reference
    from cnnjax.data import AUGMENTATIONS, load_dataset, num_batches

    src = config.source
    augment = config.data.augment
    if augment is not None and augment not in AUGMENTATIONS:
        raise ConfigError(src, "data.augment", f"must be one of {AUGMENTATIONS}, got {augment!r}")
    try:
        data = load_dataset(config.data.name, **config.data.options)
    except (ValueError, TypeError) as e:
        raise ConfigError(src, "data", str(e)) from None
    except FileNotFoundError as e:
        key = _data_file_key(config.data.options, str(e))
        raise ConfigError(src, key, f"{e} (relative paths start at {Path.cwd()})") from None
    name = config.model.name
    if name not in nn.zoo.MODELS:
        raise ConfigError(
            src, "model.name", f"unknown model {name!r}, have {sorted(nn.zoo.MODELS)}"
        )
    image_shape = tuple(data.train_images.shape[1:])
    want = tuple(nn.zoo.INPUT_SHAPES[name])
    if image_shape != want:
        raise ConfigError(
            src,
            "model.name",
            f"model {name!r} expects images of shape {want} but data "
            f"{config.data.name!r} has {image_shape}; pick a matching model or data set",
        )
    num_classes = config.model.num_classes or int(data.num_classes)
    if num_classes < data.num_classes:
        raise ConfigError(
            src, "model.num_classes", f"is {num_classes} but the data has {data.num_classes}"
        )
    n_train, batch = data.train_images.shape[0], config.train.batch_size
    if batch > n_train:
        raise ConfigError(
            src, "train.batch_size", f"is {batch} but the data has only {n_train} training images"
        )
    steps_per_epoch = num_batches(n_train, batch, drop_last=True)
    model = nn.zoo.get_model(name, num_classes=num_classes)
    init_key = jax.random.fold_in(jax.random.key(config.seed), 0)
    params, state, _ = model.init(init_key, image_shape, dtype=data.train_images.dtype)
    try:
        optimizer = make_optimizer(config, steps_per_epoch)
    except (ValueError, TypeError) as e:  # e.g. a schedule's decay_steps resolved to 0
        raise ConfigError(src, "optimizer", f"optax refused the arguments: {e}") from None
    return Experiment(
        data,
        model,
        ops if config.train.grad == "hand" else reference,
        optimizer,
        params,
        state,
        optimizer.init(params),
        num_classes,
        steps_per_epoch,
    )


def _data_file_key(options: Mapping[str, Any], message: str) -> str:
    """The ``data.options`` key whose file or folder a ``FileNotFoundError`` names."""
    given = [k for k in ("path", "images", "labels") if k in options]
    for k in given:
        if str(Path(options[k])) in message:
            return f"data.options.{k}"
    return f"data.options.{given[0]}" if given else "data.options.path"


def make_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """The optax optimizer of ``[optimizer]``; schedule step counts are resolved here."""
    opt = config.optimizer
    lr: Any = opt.learning_rate
    if opt.schedule is not None:
        total = steps_per_epoch * config.train.epochs
        args = cfgmod.resolve_step_args(opt.schedule.args, total, steps_per_epoch)
        lr = getattr(optax, opt.schedule.name)(**args)
    return getattr(optax, opt.name)(learning_rate=lr, **opt.args)


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

    Each process reads only its rows of every global batch (``host_batches``); they are
    assembled into one batch sharded over ``placement``'s devices.

    Raises:
        NonFiniteLossError: at the first step whose loss is NaN or Inf.
    """
    params, state, opt_state = carry
    t = config.train
    bar = ProgressBar(exp.steps_per_epoch, f"epoch {epoch}/{t.epochs}")
    losses, accs, checked, images = [], [], 0, 0
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
        params, state, opt_state, loss, acc = train_step(params, state, opt_state, x, y, key)
        losses.append(loss)
        accs.append(acc)
        images += x.shape[0]
        if (step + 1) % 20 == 0:
            checked = _check_finite(losses, checked, epoch, exp.steps_per_epoch, bar)
            bar.update(step + 1 - bar.count, loss=float(losses[-1]))
    _check_finite(losses, checked, epoch, exp.steps_per_epoch, bar)
    bar.close()
    seconds = time.perf_counter() - start
    metrics = {
        "train_loss": float(np.mean(np.asarray(jnp.stack(losses), np.float64))),
        "train_accuracy": float(np.mean(np.asarray(jnp.stack(accs), np.float64))),
        "steps": len(losses),
        "train_seconds": seconds,
        "images_per_second": images / seconds,
    }
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
    resolved config), ``curves.png`` and ``checkpoint.npz`` (after every epoch, atomically).

    Args:
        config: the experiment.
        workdir: the output directory.
        resume: continue from ``checkpoint.npz`` (a fresh start when there is none).
        overwrite: allow replacing an earlier run's outputs in ``workdir``.
        verbose: print one line per epoch to stdout (and a progress bar on a terminal).
        on_epoch_end: called as ``on_epoch_end(epoch, record)`` after each checkpoint.

    Returns:
        The summary: ``test_accuracy``, ``test_loss``, ``epochs``, ``wall_seconds``,
        ``images_per_second``, ``config`` and a few more.

    Raises:
        ConfigError: the data or model do not fit the config.
        CheckpointError: an earlier run's outputs would be overwritten, or the checkpoint
            does not fit the config.
        NonFiniteLossError: the loss became NaN/Inf (the last good checkpoint is kept).
    """
    start = time.perf_counter()
    distributed.initialize(config)  # before anything else touches JAX
    main = distributed.is_main_process()
    verbose = verbose and main
    out = Path(workdir or config.output.dir or Path("runs") / config.name)
    if main:
        _prepare_workdir(out, resume=resume, overwrite=overwrite)
    exp = build_experiment(config)
    placement = distributed.make_placement(config.train.devices, config.source)
    distributed.check_batch_size(config.train.batch_size, placement, config.source)
    carry, history = _start(out / CHECKPOINT, exp, config, resume=resume, verbose=verbose)
    carry = placement.replicate(carry)
    if main:
        write_text_atomic(out / "config.toml", cfgmod.to_toml(config))
    train_step, eval_step = compiled_steps(config, exp, placement)
    previous = sum(r["epoch_seconds"] for r in history)
    d = exp.data
    for epoch in range(len(history) + 1, config.train.epochs + 1):
        epoch_start = time.perf_counter()
        carry, record = train_epoch(
            exp, config, carry, epoch, train_step=train_step, placement=placement
        )
        test_loss, test_acc = evaluate(
            eval_step,
            carry[0],
            carry[1],
            d.test_images,
            d.test_labels,
            config.train.eval_batch_size,
            placement,
        )
        record = {"epoch": epoch, "epochs": config.train.epochs, **record}
        record.update(test_loss=test_loss, test_accuracy=test_acc)
        record["epoch_seconds"] = time.perf_counter() - epoch_start
        history.append(record)
        trees = dict(zip(("params", "state", "opt_state"), distributed.to_host(carry), strict=True))
        if main:
            meta = {
                "epoch": epoch,
                "history": history,
                "config": cfgmod.to_dict(config),
                "normalization": {"mean": list(d.mean), "std": list(d.std)},
            }
            save_checkpoint(out / CHECKPOINT, trees, meta)
            write_metrics(out / "metrics.jsonl", history)
        if verbose:
            print(format_epoch(record), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    return _finish(out, config, exp, history, previous + time.perf_counter() - start, write=main)


def _start(ckpt: Path, exp: Experiment, config, *, resume: bool, verbose: bool):
    """The first ``(params, state, opt_state)`` as numpy trees, and the history so far: from
    the checkpoint when resuming, read by process 0 and broadcast to the others."""
    carry, history = distributed.to_host((exp.params, exp.state, exp.opt_state)), []
    if distributed.is_main_process():
        if resume and ckpt.exists():
            carry, history = _restore(ckpt, exp, config)
        elif resume and verbose:
            print(f"no checkpoint in {ckpt.parent}, starting from epoch 1", file=sys.stderr)
    return distributed.broadcast_from_main(carry), distributed.broadcast_json(history)


def _prepare_workdir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Create ``out``; refuse to replace an earlier run unless resuming or overwriting."""
    out.mkdir(parents=True, exist_ok=True)
    earlier = [name for name in OUTPUTS if (out / name).exists()]
    if earlier and not (resume or overwrite):
        raise CheckpointError(
            f"{out} already holds a run ({', '.join(earlier)}); pass --resume to continue it, "
            "--overwrite to replace it, or --out for another directory"
        )
    if overwrite and not resume:
        for name in earlier:
            (out / name).unlink()


def _restore(ckpt: Path, exp: Experiment, config: ExperimentConfig):
    templates = {"params": exp.params, "state": exp.state, "opt_state": exp.opt_state}
    trees, meta = load_checkpoint(ckpt, templates)
    was, now = _flatten(meta["config"]), _flatten(cfgmod.to_dict(config))
    for key in sorted(set(was) | set(now)):
        if was.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES):
            raise CheckpointError(
                f"{ckpt}: cannot resume, `{key}` was {was.get(key)!r} and is now "
                f"{now.get(key)!r} (use --out for a new run)"
            )
    carry = tuple(trees[k] for k in templates)
    return carry, list(meta["history"])[: config.train.epochs]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _finish(out: Path, config, exp, history: list, wall: float, *, write: bool) -> dict[str, Any]:
    last = history[-1]
    train_seconds = sum(r["train_seconds"] for r in history)
    images = sum(r["steps"] for r in history) * config.train.batch_size
    summary = {
        "name": config.name,
        "test_accuracy": last["test_accuracy"],
        "test_loss": last["test_loss"],
        "train_accuracy": last["train_accuracy"],
        "train_loss": last["train_loss"],
        "best_test_accuracy": max(r["test_accuracy"] for r in history),
        "epochs": last["epoch"],
        "steps": sum(r["steps"] for r in history),
        "wall_seconds": wall,
        "images_per_second": images / train_seconds,
        "num_params": int(sum(np.size(x) for x in jax.tree.leaves(exp.params))),
        "workdir": str(out),
        "config": cfgmod.to_dict(config),
    }
    if not write:  # another process than 0: same summary, nothing written
        return summary
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_metrics(out / "metrics.jsonl", history)
    if config.output.plot:
        plot_curves(out / "curves.png", history, f"{config.name} ({config.train.grad} VJPs)")
    return summary


def evaluate_checkpoint(config: ExperimentConfig, path: str | Path) -> dict[str, float]:
    """Evaluate a saved checkpoint on ``config``'s test split: ``test_loss``, ``test_accuracy``.

    The data is normalised with the statistics stored in the checkpoint (``normalize="fixed"``),
    so a different ``data.options.limit`` does not change them.
    """
    _, meta = load_checkpoint(path, {})
    if "normalization" in meta:
        options = {**config.data.options, "normalize": "fixed", **meta["normalization"]}
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, options=options))
    exp = build_experiment(config)
    templates = {"params": exp.params, "state": exp.state}
    trees, meta = load_checkpoint(path, templates)
    params, state = (jax.tree.map(jnp.asarray, trees[k]) for k in templates)
    d = exp.data
    loss, acc = evaluate(
        make_eval_step(exp.model, exp.ops),
        params,
        state,
        d.test_images,
        d.test_labels,
        config.train.eval_batch_size,
    )
    return {
        "test_loss": loss,
        "test_accuracy": acc,
        "epoch": meta.get("epoch"),
        "num_test": int(d.test_images.shape[0]),
    }
