"""Option checking for ``load_dataset``: every option is named, typed and range-checked.

A checker takes ``(value, where)`` where ``where`` is the message prefix naming the data set
and the option, and returns the normalised value or raises ``TypeError`` (wrong type) or
``ValueError`` (wrong value).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

REQUIRED = object()  # the default of an option that must be given


class Option(NamedTuple):
    """One option of one source: its checker and default (``REQUIRED`` when it has none)."""

    check: Callable[[Any, str], Any]
    default: Any


def is_int(value: Any) -> bool:
    """An int or NumPy integer, not a bool (the data package's own; ops keep theirs)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return is_int(value) or isinstance(value, (float, np.floating))


def int_at_least(minimum: int, *, optional: bool = False) -> Callable[[Any, str], Any]:
    """Checker for an int ``>= minimum`` (or ``None`` when ``optional``)."""

    def check(value: Any, where: str) -> int | None:
        if value is None and optional:
            return None
        if not is_int(value):
            none = " or None" if optional else ""
            raise TypeError(f"{where} must be an int{none}, got {value!r}")
        if value < minimum:
            raise ValueError(f"{where} must be >= {minimum}, got {value!r}")
        return int(value)

    return check


def float_in(low: float, high: float, *, high_open: bool) -> Callable[[Any, str], float]:
    """Checker for a real number in ``[low, high)`` (``high_open``) or ``[low, high]``."""

    def check(value: Any, where: str) -> float:
        if not _is_real(value):
            raise TypeError(f"{where} must be a number, got {value!r}")
        value = float(value)
        if not (low <= value < high or (not high_open and value == high)):
            bracket = ")" if high_open else "]"
            raise ValueError(f"{where} must lie in [{low}, {high}{bracket}, got {value!r}")
        return value

    return check


def path(value: Any, where: str) -> Path:
    """Checker for a file or folder path (``str`` or ``os.PathLike``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where} must be a path (str or os.PathLike), got {value!r}")
    return Path(value)


def choice(*allowed: str) -> Callable[[Any, str], str]:
    """Checker for one of the strings ``allowed``."""

    def check(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, one of {allowed}, got {value!r}")
        if value not in allowed:
            raise ValueError(f"{where} must be one of {allowed}, got {value!r}")
        return value

    return check


def shape3(value: Any, where: str) -> tuple[int, int, int]:
    """Checker for an image shape ``(H, W, C)`` of positive ints."""
    if not (isinstance(value, Sequence) and len(value) == 3 and all(is_int(v) for v in value)):
        raise TypeError(f"{where} must be a sequence of three ints (H, W, C), got {value!r}")
    if min(value) < 1:
        raise ValueError(f"{where} must have every entry >= 1, got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


def floats(value: Any, where: str) -> tuple[float, ...] | None:
    """Checker for ``None``, a number, or a sequence of numbers (one per channel)."""
    if value is None:
        return None
    if _is_real(value):
        return (float(value),)
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(_is_real(v) for v in value)
    ):
        return tuple(float(v) for v in value)
    raise TypeError(f"{where} must be a number or a sequence of numbers, got {value!r}")


def resolve(name: str, spec: Mapping[str, Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``given`` against ``spec``: unknown, missing, mistyped and bad values all raise.

    Returns:
        Every option in ``spec``, normalised, defaults filled in.
    """
    where = f"load_dataset({name!r})"
    known = ", ".join(sorted(spec))
    unknown = sorted(set(given) - set(spec))
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise ValueError(f"{where}: unknown option(s) {names}; known options: {known}")
    missing = sorted(k for k, opt in spec.items() if opt.default is REQUIRED and k not in given)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise ValueError(f"{where}: missing required option(s) {names}; known options: {known}")
    resolved = {}
    for key, opt in spec.items():
        value = given.get(key, opt.default)
        resolved[key] = opt.check(value, f"{where}: option `{key}`")
    return resolved
