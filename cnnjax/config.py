"""Experiment configs: TOML files mapped one-to-one onto frozen dataclasses.

A config has ``name``, ``seed`` and the tables ``[data]``, ``[model]``, ``[optimizer]``
(optionally ``[optimizer.schedule]``), ``[train]`` and ``[output]``. Unknown keys, wrong types
and impossible values raise :class:`ConfigError` naming the file and the dotted key.
Overrides (``--set train.epochs=3``) are applied to the raw TOML before validation, so they are
checked exactly like the file.

>>> raw = {"name": "demo", "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}}
>>> cfg = from_dict(raw, source="<demo>")
>>> cfg.train.batch_size, cfg.optimizer.name, cfg.optimizer.args
(64, 'sgd', {'momentum': 0.9})
>>> from_dict({"name": "demo", "train": {"epoch": 3}}, source="<demo>")
Traceback (most recent call last):
...
cnnjax.config.ConfigError: <demo>: `train.epoch`: unknown key
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optax

# Strings accepted in place of an integer schedule argument, resolved at training time.
STEP_PLACEHOLDERS = ("total_steps", "steps_per_epoch")
_SCHEDULES = tuple(n for n in dir(optax.schedules) if n.endswith(("_schedule", "_decay")))


class ConfigError(ValueError):
    """A bad config: the message names the file (``source``) and the dotted ``key``."""

    def __init__(self, source: str, key: str | None, message: str):
        self.source, self.key = source, key
        where = f"`{key}`: " if key else ""
        super().__init__(f"{source}: {where}{message}")


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type."""


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: the data set passed to ``cnnjax.data.load_dataset(name, **options)``."""

    name: str = "digits"
    augment: str | None = None  # passed to ``epoch_batches(augment=...)``
    options: dict[str, Any] = field(default_factory=dict)  # ``[data.options]``


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: a zoo model; ``num_classes`` defaults to the data set's."""

    name: str = "digits_cnn"
    num_classes: int | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    """``[optimizer.schedule]``: an optax schedule by name plus its keyword arguments.

    Integer arguments may be ``"total_steps"`` or ``"steps_per_epoch"``.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    """``[optimizer]``: an optax optimizer by name, its learning rate (a float or a schedule)
    and its other keyword arguments (``args``, written inline in the TOML table)."""

    name: str = "adam"
    learning_rate: float | None = None
    schedule: ScheduleConfig | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: the loop. ``grad`` picks the op set: hand VJPs or JAX autodiff."""

    batch_size: int = 64
    epochs: int = 10
    grad: Literal["hand", "autodiff"] = "hand"
    eval_batch_size: int = 1000
    label_smoothing: float = 0.0
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

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: where the run goes (default ``runs/<name>``) and what it writes."""

    dir: str | None = None
    plot: bool = True


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment. ``source`` (the file it came from) is not a TOML key."""

    name: str
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(learning_rate=1e-3))
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    source: str = field(default="<config>", compare=False, repr=False)


# Tables whose unknown keys are collected into ``args`` instead of being errors; their names
# are then checked against the optax function's signature.
_OPEN_TABLES = {OptimizerConfig: "args", ScheduleConfig: "args"}


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read a TOML experiment config, apply ``key=value`` overrides, validate.

    Args:
        path: the TOML file.
        overrides: strings ``"dotted.key=value"``; the value is parsed as a TOML value and
            a bare word falls back to a string (``optimizer.name=sgd``).

    Returns:
        The validated :class:`ExperimentConfig`.

    Raises:
        ConfigError: naming the file and the dotted key, for a missing or unparsable file,
            an unknown key, a wrong type or an impossible value.
    """
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(source, None, f"cannot read the config file: {e.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, None, f"invalid TOML: {e}") from None
    for item in overrides:
        apply_override(raw, item, source)
    return from_dict(raw, source=source)


def parse_override(item: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``"a.b=value"`` into the dotted key and the TOML-parsed value.

    >>> parse_override("train.epochs=3"), parse_override("optimizer.name=sgd")
    (('train.epochs', 3), ('optimizer.name', 'sgd'))
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(source, None, f"--set expects KEY=VALUE with a dotted KEY, got {item!r}")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return key, value


def apply_override(raw: dict[str, Any], item: str, source: str) -> None:
    """Set ``raw[a][b] = value`` for ``item = "a.b=value"``, creating tables as needed."""
    key, value = parse_override(item, source)
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            dotted = ".".join(parts[: i + 1])
            raise ConfigError(source, dotted, f"is not a table, cannot set --set {key}")
    node[parts[-1]] = value


def from_dict(raw: Mapping[str, Any], *, source: str = "<config>") -> ExperimentConfig:
    """Validate a raw (TOML-shaped) dict into an :class:`ExperimentConfig`."""
    cfg = _build(ExperimentConfig, raw, "", source)
    cfg = dataclasses.replace(cfg, source=source)
    _check_values(cfg)
    return cfg


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigTypeError(source, prefix.rstrip("."), f"must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names or (cls in _OPEN_TABLES and key == _OPEN_TABLES[cls]):
            if cls not in _OPEN_TABLES:
                raise ConfigError(source, dotted, "unknown key")
            extra[key] = value
            continue
        kwargs[key] = _convert(hints[key], value, dotted, source)
    if extra:
        kwargs[_OPEN_TABLES[cls]] = extra
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(source, f"{prefix}{missing[0]}", "is required")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, dotted: str, source: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:  # try each non-None member; the first that fits wins
            try:
                return _convert(option, value, dotted, source)
            except ConfigTypeError:
                continue
        names = " or ".join(_type_name(o) for o in options)
        raise ConfigTypeError(source, dotted, f"must be {names}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(source, dotted, f"must be one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{dotted}.", source)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigTypeError(source, dotted, f"must be a table, got {value!r}")
        return dict(value)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[hint]
    if not ok:
        raise ConfigTypeError(source, dotted, f"must be {_type_name(hint)}, got {value!r}")
    return float(value) if hint is float else value


def _type_name(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "a table"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def _check_values(cfg: ExperimentConfig) -> None:
    src = cfg.source

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise ConfigError(src, key, message)

    need(bool(cfg.name.strip()), "name", "must not be empty")
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
    d = cfg.distributed
    n, pid = d.num_processes, d.process_id
    need(n is None or n >= 1, "distributed.num_processes", f"must be >= 1, got {n}")
    bad_pid = pid is not None and (pid < 0 or (n is not None and pid >= n))
    need(not bad_pid, "distributed.process_id", f"must be in [0, num_processes), got {pid}")
    _check_optimizer(cfg.optimizer, src)


def _check_optimizer(opt: OptimizerConfig, src: str) -> None:
    fn = getattr(optax, opt.name, None)
    params = _signature(fn)
    if params is None or "learning_rate" not in params:
        raise ConfigError(src, "optimizer.name", f"{opt.name!r} is not an optax optimizer")
    lr = opt.learning_rate
    if opt.schedule is not None and lr is not None:
        raise ConfigError(src, "optimizer.learning_rate", "give it or a schedule, not both")
    if opt.schedule is None and lr is None:
        raise ConfigError(
            src, "optimizer.learning_rate", "is required (or an [optimizer.schedule] table)"
        )
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise ConfigError(src, "optimizer.learning_rate", f"must be a number > 0, got {lr}")
    _check_args(fn, params, opt.args, "optimizer", src, skip=("learning_rate",))
    if opt.schedule is not None:
        name = opt.schedule.name
        sched = getattr(optax, name, None) if name in _SCHEDULES else None
        if sched is None:
            choices = ", ".join(_SCHEDULES)
            raise ConfigError(
                src, "optimizer.schedule.name", f"{name!r} is not an optax schedule ({choices})"
            )
        params = _signature(sched) or {}
        _check_args(sched, params, opt.schedule.args, "optimizer.schedule", src)


def _signature(fn: Any) -> dict[str, inspect.Parameter] | None:
    if not callable(fn) or isinstance(fn, type):
        return None
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def _check_args(fn, params, args, prefix, src, skip=()) -> None:
    for key in args:
        if key not in params or key in skip:
            allowed = ", ".join(p for p in params if p not in skip)
            raise ConfigError(
                src, f"{prefix}.{key}", f"unknown argument of optax.{fn.__name__} ({allowed})"
            )
    for name, p in params.items():
        empty = p.default is inspect.Parameter.empty
        if empty and name not in skip and name not in args and p.kind is not p.VAR_KEYWORD:
            raise ConfigError(src, f"{prefix}.{name}", f"is required by optax.{fn.__name__}")


def resolve_step_args(args: Mapping[str, Any], total_steps: int, steps_per_epoch: int) -> dict:
    """Replace ``"total_steps"``/``"steps_per_epoch"`` strings in schedule arguments.

    >>> resolve_step_args({"decay_steps": "total_steps", "alpha": 0.1}, 100, 10)
    {'decay_steps': 100, 'alpha': 0.1}
    """
    lookup = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch}
    return {k: lookup.get(v, v) if isinstance(v, str) else v for k, v in args.items()}


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as a TOML-shaped dict (``args`` inlined, ``None`` values dropped)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "source" or value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        if type(cfg) in _OPEN_TABLES and f.name == _OPEN_TABLES[type(cfg)]:
            out.update(value)
        else:
            out[f.name] = value
    return out


def to_toml(cfg: ExperimentConfig) -> str:
    """Serialise a config to TOML that :func:`load_config` reads back to an equal config."""
    lines: list[str] = []
    _write_table(to_dict(cfg), [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _write_table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for k, v in tables.items():
        _write_table(v, [*path, k], lines)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"to_toml: cannot write {v!r} of type {type(v).__name__}")
