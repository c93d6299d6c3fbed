"""The ``[optimizer]`` table, checked against optax's own signatures, and built.

:func:`check_optimizer` runs when a config is loaded: the optimizer and the schedule are optax
functions; every argument is a parameter of that function, has the type its annotation asks
for (a number, an integer step count, a boolean, a dtype name, ...) and is not obviously
impossible (betas and momentum in ``[0, 1)``, a learning rate in ``(0, 10]``, no negative
``eps`` or ``weight_decay``). Arguments that take Python objects (``mask``) cannot be given.

:func:`make_optimizer` builds the optax transformation once the run's length is known. Schedule
step counts may be written as ``"total_steps"`` (epochs x steps per epoch) or
``"steps_per_epoch"``; a ``warmup_steps`` longer than the run is capped at
``total_steps - 1``, so a short run (``--set train.epochs=1``) of a config with a one-epoch
warm-up still works; a step count that stays impossible (``decay_steps`` < 1, or not past the
warm-up) is an error naming the key and the resolved numbers.

>>> from types import SimpleNamespace as NS
>>> sched = NS(name="warmup_cosine_decay_schedule", args={"init_value": 0.0,
...     "peak_value": 1e-3, "warmup_steps": "steps_per_epoch", "decay_steps": "total_steps"})
>>> resolve_schedule_args(sched, total_steps=89, steps_per_epoch=89)
{'init_value': 0.0, 'peak_value': 0.001, 'warmup_steps': 88, 'decay_steps': 89}
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import optax

from cnnjax._toml_dataclass import ConfigError, ConfigTypeError

# Strings accepted in place of an integer schedule argument, resolved by make_optimizer.
STEP_PLACEHOLDERS = ("total_steps", "steps_per_epoch")
SCHEDULES = tuple(n for n in dir(optax.schedules) if n.endswith(("_schedule", "_decay")))
# No optax optimizer trains a CNN at a step size above this; 1e12 is a typo, not a choice.
MAX_LEARNING_RATE = 10.0

# Value rules by argument name: (low, high, low_open, high_open); every number is finite.
_OPTIMIZER_RANGES = {
    **dict.fromkeys(("b1", "b2", "momentum", "decay", "rho"), (0.0, 1.0, False, True)),
    **dict.fromkeys(
        ("eps", "eps_root", "weight_decay", "weight_decay_rate", "initial_accumulator_value")
        + ("initial_scale", "min_norm", "trust_coefficient"),
        (0.0, math.inf, False, True),
    ),
}
_SCHEDULE_RANGES = {
    **dict.fromkeys(
        ("init_value", "peak_value", "end_value", "value"),
        (0.0, math.inf, False, True),  # no upper bound: tests force a divergence this way
    ),
    **dict.fromkeys(("alpha", "pct_start", "pct_final"), (0.0, 1.0, False, False)),
    **dict.fromkeys(
        ("exponent", "power", "div_factor", "final_div_factor", "decay_rate"),
        (0.0, math.inf, True, True),
    ),
}
_MIN_ONE = ("decay_steps", "transition_steps")  # step counts that must resolve to >= 1


def check_optimizer(opt: Any, source: str) -> None:
    """Check an ``OptimizerConfig`` against optax; raise :class:`ConfigError` naming the key.

    Raises:
        ConfigError: unknown optimizer or schedule, unknown or missing argument, an
            impossible value, an unknown step placeholder.
        ConfigTypeError: an argument of the wrong type.
    """
    fn = getattr(optax, opt.name, None)
    params = _signature(fn)
    if params is None or "learning_rate" not in params:
        raise ConfigError(source, "optimizer.name", f"{opt.name!r} is not an optax optimizer")
    lr = opt.learning_rate
    if opt.schedule is not None and lr is not None:
        raise ConfigError(
            source,
            "optimizer.learning_rate",
            "give it or a schedule, not both (--set optimizer.schedule=none drops the schedule)",
        )
    if opt.schedule is None and lr is None:
        raise ConfigError(
            source, "optimizer.learning_rate", "is required (or an [optimizer.schedule] table)"
        )
    if lr is not None:
        _check_range(
            "learning_rate", lr, (0.0, MAX_LEARNING_RATE, True, False), "optimizer", source
        )
    _check_args(fn, params, opt.args, "optimizer", source, _OPTIMIZER_RANGES, steps=False)
    if opt.schedule is not None:
        _check_schedule(opt.schedule.name, opt.schedule.args, "optimizer.schedule", source)


def _check_schedule(name: Any, args: Mapping[str, Any], prefix: str, source: str) -> None:
    sched = getattr(optax, name, None) if name in SCHEDULES else None
    if sched is None:
        raise ConfigError(
            source, f"{prefix}.name", f"{name!r} is not an optax schedule ({', '.join(SCHEDULES)})"
        )
    _check_args(sched, _signature(sched) or {}, args, prefix, source, _SCHEDULE_RANGES, steps=True)
    values = [args[k] for k in ("init_value", "peak_value", "value", "end_value") if k in args]
    if values and max(values) <= 0:
        raise ConfigError(
            source, prefix, f"every learning rate of the schedule is 0 ({values}): nothing learns"
        )


def _signature(fn: Any) -> dict[str, inspect.Parameter] | None:
    if not callable(fn) or isinstance(fn, type):
        return None
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def _check_args(fn, params, args, prefix, source, ranges, *, steps: bool) -> None:
    """Names, then types and values, of ``args`` against ``fn``'s ``params``."""
    skip = ("learning_rate",)
    allowed = ", ".join(p for p in params if p not in skip)
    for key in args:
        if key not in params or key in skip:
            raise ConfigError(
                source, f"{prefix}.{key}", f"unknown argument of optax.{fn.__name__} ({allowed})"
            )
    for name, p in params.items():
        empty = p.default is inspect.Parameter.empty
        if empty and name not in skip and name not in args and p.kind is not p.VAR_KEYWORD:
            raise ConfigError(source, f"{prefix}.{name}", f"is required by optax.{fn.__name__}")
    for key, value in args.items():
        kind = _kind(params[key].annotation, key)
        _check_value(kind, key, value, prefix, source, steps=steps)
        if kind == "number":
            _check_range(key, value, ranges.get(key), prefix, source)


def _kind(annotation: Any, name: str) -> str:
    """What a config may give for a parameter annotated ``annotation``: ``"number"``,
    ``"int"``, ``"bool"``, ``"str"``, ``"dtype"``, ``"int_table"`` (``dict[int, float]``),
    ``"tables"`` (a list of keyword tables) or ``"object"`` (nothing a config can write)."""
    if annotation in (bool, int, float, str):
        return {bool: "bool", int: "int", float: "number", str: "str"}[annotation]
    origin = typing.get_origin(annotation)
    members = set(typing.get_args(annotation)) if origin else {annotation}
    if origin in (typing.Union, types.UnionType):
        members = {typing.get_origin(m) or m for m in members} - {type(None)}
    if origin is dict or dict in members:
        return "int_table"
    if origin is Iterable:
        return "tables"
    if name.endswith("dtype") or name.startswith("dtype"):
        return "dtype"
    if Any in members or annotation is inspect.Parameter.empty:
        return "object"
    if float in members or complex in members:
        return "number"
    if members == {int}:
        return "int"
    if members == {bool}:
        return "bool"
    return "object"


_KIND_NAMES = {
    "number": "a number",
    "int": "an integer",
    "bool": "a boolean",
    "str": "a string",
    "dtype": "a dtype name such as 'float32'",
}


def _check_value(kind: str, key: str, value: Any, prefix: str, source: str, *, steps: bool):
    dotted = f"{prefix}.{key}"
    if kind == "int" and steps and isinstance(value, str):
        if value not in STEP_PLACEHOLDERS:
            valid = ", ".join(f'"{p}"' for p in STEP_PLACEHOLDERS)
            raise ConfigError(
                source,
                dotted,
                f"unknown step placeholder {value!r}; a step count is an integer or one of {valid}",
            )
        return
    if kind == "object":
        raise ConfigError(source, dotted, "takes a Python object and cannot be set in a config")
    if kind == "int_table":
        _check_int_table(value, dotted, source)
        return
    if kind == "tables":
        if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
            raise ConfigTypeError(source, dotted, f"must be a list of tables, got {value!r}")
        for i, table in enumerate(value):
            _check_schedule("warmup_cosine_decay_schedule", table, f"{dotted}[{i}]", source)
        return
    ok = {
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "dtype": isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigTypeError(source, dotted, f"must be {_KIND_NAMES[kind]}, got {value!r}")
    if kind == "int" and value < 0:
        raise ConfigError(source, dotted, f"must be >= 0, got {value}")
    if kind == "dtype":
        try:
            np.dtype(value)
        except TypeError:
            raise ConfigError(source, dotted, f"{value!r} is not a dtype name") from None


def _check_int_table(value: Any, dotted: str, source: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigTypeError(source, dotted, f"must be a table of step = number, got {value!r}")
    for k, v in value.items():
        if not str(k).isdigit():
            raise ConfigError(source, dotted, f"keys must be step numbers (integers), got {k!r}")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ConfigTypeError(source, f"{dotted}.{k}", f"must be a finite number, got {v!r}")


def _check_range(key: str, value: Any, rule, prefix: str, source: str) -> None:
    dotted = f"{prefix}.{key}"
    if not math.isfinite(value):
        raise ConfigError(source, dotted, f"must be a finite number, got {value}")
    if rule is None:
        return
    low, high, low_open, high_open = rule
    ok = (low < value if low_open else low <= value) and (
        value < high if high_open else value <= high
    )
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(source, dotted, f"must be in {interval}, got {value}")


def resolve_schedule_args(
    schedule: Any, *, total_steps: int, steps_per_epoch: int, source: str = "<config>"
) -> dict[str, Any]:
    """The schedule's keyword arguments for optax, with step counts resolved and checked.

    Placeholders become numbers, ``warmup_steps`` is capped at ``total_steps - 1``, tables of
    ``step = scale`` get integer keys. Raises :class:`ConfigError` naming the key and the
    resolved numbers when a step count stays impossible.
    """
    return _resolve(schedule.args, total_steps, steps_per_epoch, "optimizer.schedule", source)


def _resolve(args, total: int, per_epoch: int, prefix: str, source: str) -> dict[str, Any]:
    lookup = {"total_steps": total, "steps_per_epoch": per_epoch}
    out: dict[str, Any] = {}
    for k, v in args.items():
        if isinstance(v, str):
            v = lookup.get(v, v)
        elif isinstance(v, Mapping) and all(str(key).isdigit() for key in v):
            v = {int(key): scale for key, scale in v.items()}
        elif isinstance(v, list):
            v = [
                _resolve(t, total, per_epoch, f"{prefix}.{k}[{i}]", source) for i, t in enumerate(v)
            ]
        out[k] = v
    if isinstance(out.get("warmup_steps"), int):
        out["warmup_steps"] = min(out["warmup_steps"], max(total - 1, 0))
    numbers = f"total_steps = {total} (steps_per_epoch = {per_epoch})"
    for k in _MIN_ONE:
        if isinstance(out.get(k), int) and out[k] < 1:
            raise ConfigError(
                source, f"{prefix}.{k}", f"resolves to {out[k]} but must be >= 1; {numbers}"
            )
    warm, decay = out.get("warmup_steps"), out.get("decay_steps")
    if isinstance(warm, int) and isinstance(decay, int) and decay <= warm:
        raise ConfigError(
            source,
            f"{prefix}.decay_steps",
            f"is {decay} but counts the warm-up too, so it must exceed warmup_steps = {warm}; "
            f"{numbers}",
        )
    return out


def make_optimizer(config: Any, steps_per_epoch: int) -> optax.GradientTransformation:
    """The optax optimizer of ``config.optimizer``, its schedule resolved for the run's length.

    Args:
        config: an ``ExperimentConfig`` (already checked by :func:`check_optimizer`).
        steps_per_epoch: optimizer steps per epoch; ``total_steps`` is this times
            ``config.train.epochs``.

    Raises:
        ConfigError: a schedule step count is impossible for this run, or optax refuses the
            arguments (the message names the key).
    """
    opt, source = config.optimizer, config.source
    lr: Any = opt.learning_rate
    if opt.schedule is not None:
        total = steps_per_epoch * config.train.epochs
        args = resolve_schedule_args(
            opt.schedule, total_steps=total, steps_per_epoch=steps_per_epoch, source=source
        )
        try:
            lr = getattr(optax, opt.schedule.name)(**args)
        except (ValueError, TypeError) as e:
            raise ConfigError(source, "optimizer.schedule", f"optax refused {args}: {e}") from None
    try:
        return getattr(optax, opt.name)(learning_rate=lr, **opt.args)
    except (ValueError, TypeError) as e:
        raise ConfigError(source, "optimizer", f"optax refused {opt.args}: {e}") from None
