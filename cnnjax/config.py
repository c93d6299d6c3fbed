"""Experiment configs: TOML files mapped one-to-one onto frozen dataclasses.

A config has ``name``, ``seed`` and the tables ``[data]``, ``[model]``, ``[optimizer]``
(optionally ``[optimizer.schedule]``), ``[task]``, ``[train]`` and ``[output]``. Unknown
keys, wrong types and impossible values raise :class:`ConfigError` naming the file and the
dotted key. Overrides (``--set train.epochs=3``) are applied to the raw TOML before
validation, so they are checked exactly like the file. The generic TOML-to-dataclass machinery is
:mod:`cnnjax._toml_dataclass`; the optimizer's checks against optax are
:mod:`cnnjax.optimizer`.

``name`` names the run folder (``runs/<name>``), so it may not contain a path separator or
be ``.``/``..``; a file that is not UTF-8 is refused with the byte offset of the first bad byte.

Schedules: integer step arguments of ``[optimizer.schedule]`` may be ``"total_steps"`` or
``"steps_per_epoch"``; a warm-up longer than the run is capped at ``total_steps - 1`` (see
:func:`cnnjax.optimizer.make_optimizer`). To train at a constant learning rate although the
file has a schedule, drop the schedule and give the rate::

    cnnjax train experiments/digits_cnn.toml \
        --set optimizer.schedule=none --set optimizer.learning_rate=1e-3

``[task]`` says what the model learns (:mod:`cnnjax.tasks`). ``kind = "classify"`` (the
default; a file without ``[task]`` means what it always did) trains a ``cnnjax.nn.zoo.MODELS``
classifier with ``softmax_cross_entropy`` and reports accuracy. ``kind = "denoise"`` trains
an image-to-image ``cnnjax.nn.zoo.AUTOENCODERS`` model to map the pixels in ``[0, 1]`` plus
Gaussian noise of standard deviation ``noise`` back to the clean pixels with ``mse_loss``,
and reports the test MSE (``test_mse``; ``noisy_mse`` in ``summary.json`` is the noisy
input's); it refuses ``train.label_smoothing`` and ``model.num_classes``, and ``noise = 0``
trains a plain autoencoder. ``noise`` must be finite and >= 0, and 0 for classify::

    [task]
    kind = "denoise"
    noise = 0.25

>>> raw = {"name": "demo", "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}}
>>> cfg = from_dict(raw, source="<demo>")
>>> cfg.train.batch_size, cfg.optimizer.name, cfg.optimizer.args
(64, 'sgd', {'momentum': 0.9})
>>> from_dict({"name": "demo", "train": {"epoch": 3}}, source="<demo>")
Traceback (most recent call last):
...
cnnjax._toml_dataclass.ConfigError: <demo>: `train.epoch`: unknown key
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cnnjax import _toml_dataclass as td
from cnnjax._toml_dataclass import ConfigError, ConfigTypeError, apply_override, parse_override
from cnnjax.optimizer import (
    STEP_PLACEHOLDERS,
    check_optimizer,
    make_optimizer,
    resolve_schedule_args,
)

__all__ = [
    "STEP_PLACEHOLDERS",
    "ConfigError",
    "ConfigTypeError",
    "DataConfig",
    "DistributedConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimizerConfig",
    "OutputConfig",
    "ScheduleConfig",
    "TaskConfig",
    "TrainConfig",
    "apply_override",
    "check_optimizer",
    "from_dict",
    "load_config",
    "make_optimizer",
    "parse_override",
    "resolve_step_args",
    "to_dict",
    "to_toml",
]


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: the data set passed to ``cnnjax.data.load_dataset(name, **options)``."""

    # ``digits`` (embedded), ``mnist``, ``fashion_mnist``, ``idx``, ``cifar10``, ``synthetic``
    name: str = "digits"
    # training-batch augmentation: ``"crop_flip"``, ``"crop_flip_reflect"`` or none
    augment: str | None = None
    # the data set's keyword arguments (``path``, ``limit``, ...; see ``load_dataset``)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: a zoo model; ``num_classes`` defaults to the data set's."""

    name: str = "digits_cnn"  # a key of ``cnnjax.nn.zoo.MODELS`` (or ``AUTOENCODERS``)
    num_classes: int | None = None  # the logits' width; default the data set's class count


@dataclass(frozen=True)
class ScheduleConfig:
    """``[optimizer.schedule]``: an optax schedule by name plus its keyword arguments.

    Integer arguments may be ``"total_steps"`` or ``"steps_per_epoch"``.
    """

    name: str  # an ``optax`` schedule, e.g. ``"warmup_cosine_decay_schedule"``
    # its keyword arguments, written as the table's other keys
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    """``[optimizer]``: an optax optimizer by name, its learning rate (a float or a schedule)
    and its other keyword arguments (``args``, written inline in the TOML table)."""

    name: str = "adam"  # an ``optax`` optimizer: ``adam``, ``adamw``, ``sgd``, ...
    learning_rate: float | None = None  # a constant rate (or give ``[optimizer.schedule]``)
    schedule: ScheduleConfig | None = None  # a learning-rate schedule instead of a constant
    # the optimizer's other keyword arguments (``weight_decay``, ``momentum``, ...)
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskConfig:
    """``[task]``: what the model learns (see :mod:`cnnjax.tasks`).

    ``kind``: ``"classify"`` (logits, cross-entropy, accuracy) or ``"denoise"`` (images in
    and out, ``mse_loss``, test MSE). ``noise``: the standard deviation of the Gaussian noise
    added to the ``[0, 1]`` pixels (denoise only; 0 for classify).
    """

    kind: Literal["classify", "denoise"] = "classify"  # what the model learns
    noise: float = 0.0  # denoise: the Gaussian noise's standard deviation on [0, 1] pixels


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: the loop. ``grad`` picks the op set: hand VJPs or JAX autodiff."""

    batch_size: int = 64  # global examples per step (split over ``devices``)
    epochs: int = 10  # passes over the training set (may grow at a ``--resume``)
    grad: Literal["hand", "autodiff"] = "hand"  # ``cnnjax.ops`` or ``cnnjax.reference``
    eval_batch_size: int = 1000  # examples per evaluation batch (memory only)
    label_smoothing: float = 0.0  # classify: ``softmax_cross_entropy(label_smoothing=)``
    # Data parallelism: "all" or a count of (global) devices in the 1-D ``data`` mesh; each
    # batch is split along its first axis over them (see cnnjax.distributed).
    devices: int | str = 1


@dataclass(frozen=True)
class DistributedConfig:
    """``[distributed]``: multi-host settings for ``jax.distributed.initialize``.

    Each unset key falls back to the environment: ``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``. With no coordinator address anywhere the run is
    single-process.
    """

    coordinator_address: str | None = None  # ``host:port`` of process 0
    num_processes: int | None = None  # processes (hosts) in the job
    process_id: int | None = None  # this process's rank, 0 .. num_processes - 1


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: where the run goes (default ``runs/<name>``) and what it writes.

    ``grad_stats = true`` adds ``grad_norms`` to every epoch's record in ``metrics.jsonl``
    (per layer, the mean over the epoch's steps of the norm of that layer's parameter
    gradients, as training applied them) and plots them to ``grad_norms.png``.
    """

    dir: str | None = None  # the run folder (``--out`` overrides); default ``runs/<name>``
    plot: bool = True  # write ``curves.png`` (and the task's pictures)
    grad_stats: bool = False  # log per-layer gradient norms; plot ``grad_norms.png``


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment. ``source`` (the file it came from) is not a TOML key."""

    name: str  # the run's name (its default folder ``runs/<name>``)
    seed: int = 0  # the init key, the batch order and every step's key derive from it
    data: DataConfig = field(default_factory=DataConfig)  # ``[data]``
    model: ModelConfig = field(default_factory=ModelConfig)  # ``[model]``
    # ``[optimizer]``; default ``adam`` at 1e-3
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(learning_rate=1e-3))
    task: TaskConfig = field(default_factory=TaskConfig)  # ``[task]``
    train: TrainConfig = field(default_factory=TrainConfig)  # ``[train]``
    output: OutputConfig = field(default_factory=OutputConfig)  # ``[output]``
    distributed: DistributedConfig = field(default_factory=DistributedConfig)  # multi-host
    source: str = field(default="<config>", compare=False, repr=False)


# Tables whose unknown keys are collected into ``args`` instead of being errors; their names
# are then checked against the optax function's signature.
_OPEN_TABLES = {OptimizerConfig: "args", ScheduleConfig: "args"}


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read a TOML experiment config, apply ``key=value`` overrides, validate.

    Args:
        path: the TOML file (UTF-8).
        overrides: strings ``"dotted.key=value"``; the value is parsed as a TOML value and
            a bare word falls back to a string (``optimizer.name=sgd``).

    Returns:
        The validated :class:`ExperimentConfig`.

    Raises:
        ConfigError: naming the file and the dotted key, for a missing, unreadable, non-UTF-8
            or unparsable file, an unknown key, a wrong type or an impossible value.
    """
    source = str(path)
    raw = td.read_toml(path)
    for item in overrides:
        apply_override(raw, item, source)
    return from_dict(raw, source=source)


def from_dict(raw: Mapping[str, Any], *, source: str = "<config>") -> ExperimentConfig:
    """Validate a raw (TOML-shaped) dict into an :class:`ExperimentConfig`."""
    cfg = td.build(ExperimentConfig, raw, source=source, open_tables=_OPEN_TABLES)
    cfg = dataclasses.replace(cfg, source=source)
    _check_values(cfg)
    return cfg


def _check_values(cfg: ExperimentConfig) -> None:
    src = cfg.source

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise ConfigError(src, key, message)

    _check_name(cfg.name, src)
    need(cfg.seed >= 0, "seed", f"must be >= 0, got {cfg.seed}")
    need(bool(cfg.data.name), "data.name", "must not be empty")
    need(bool(cfg.model.name), "model.name", "must not be empty")
    nc = cfg.model.num_classes
    need(nc is None or nc >= 2, "model.num_classes", f"must be >= 2, got {nc}")
    t = cfg.train
    need(t.batch_size >= 1, "train.batch_size", f"must be >= 1, got {t.batch_size}")
    need(t.epochs >= 1, "train.epochs", f"must be >= 1, got {t.epochs}")
    need(t.eval_batch_size >= 1, "train.eval_batch_size", f"must be >= 1, got {t.eval_batch_size}")
    ls = t.label_smoothing
    need(0.0 <= ls < 1.0, "train.label_smoothing", f"must be in [0, 1), got {ls}")
    dev = t.devices
    ok = dev == "all" or (isinstance(dev, int) and dev >= 1)
    need(ok, "train.devices", f'must be "all" or an integer >= 1, got {dev!r}')
    _check_task(cfg, need)
    d = cfg.distributed
    n, pid = d.num_processes, d.process_id
    need(n is None or n >= 1, "distributed.num_processes", f"must be >= 1, got {n}")
    bad_pid = pid is not None and (pid < 0 or (n is not None and pid >= n))
    need(not bad_pid, "distributed.process_id", f"must be in [0, num_processes), got {pid}")
    check_optimizer(cfg.optimizer, src)


def _check_task(cfg: ExperimentConfig, need: Callable[[bool, str, str], None]) -> None:
    """``[task]`` and the keys it makes meaningless (the model's kind is checked when the
    experiment is built, against the zoo)."""
    kind, noise = cfg.task.kind, cfg.task.noise
    need(math.isfinite(noise) and noise >= 0, "task.noise", f"must be finite and >= 0, got {noise}")
    if kind == "classify":
        need(noise == 0, "task.noise", f'is for task.kind = "denoise"; must be 0, got {noise}')
        return
    ls, nc = cfg.train.label_smoothing, cfg.model.num_classes
    need(ls == 0, "train.label_smoothing", f"is meaningless for task.kind = {kind!r}, got {ls}")
    need(nc is None, "model.num_classes", f"is meaningless for task.kind = {kind!r}, got {nc}")


def _check_name(name: str, src: str) -> None:
    """``name`` becomes the folder ``runs/<name>``: one plain path component."""
    if not name.strip():
        raise ConfigError(src, "name", "must not be empty")
    bad = [c for c in ("/", "\\") if c in name]
    if bad or name in (".", "..") or not name.isprintable():
        raise ConfigError(
            src,
            "name",
            f"must be a plain folder name (no path separators, not '.' or '..', printable), "
            f"got {name!r}; use output.dir or --out to choose another directory",
        )


def resolve_step_args(args: Mapping[str, Any], total_steps: int, steps_per_epoch: int) -> dict:
    """``[optimizer.schedule]`` arguments with their step counts resolved for one run.

    Placeholders ``"total_steps"``/``"steps_per_epoch"`` become numbers and a warm-up longer
    than the run is capped at ``total_steps - 1`` (see
    :func:`cnnjax.optimizer.resolve_schedule_args`, which also names the file in errors).

    >>> resolve_step_args({"decay_steps": "total_steps", "alpha": 0.1}, 100, 10)
    {'decay_steps': 100, 'alpha': 0.1}
    """
    schedule = ScheduleConfig(name="", args=dict(args))
    return resolve_schedule_args(schedule, total_steps=total_steps, steps_per_epoch=steps_per_epoch)


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as a TOML-shaped dict (``args`` inlined, ``None`` values dropped)."""
    return td.to_dict(cfg, _OPEN_TABLES)


def to_toml(cfg: ExperimentConfig) -> str:
    """Serialise a config to TOML that :func:`load_config` reads back to an equal config."""
    return td.dumps(to_dict(cfg))
