"""The case grid: every op's named configurations, one list per op family.

``ALL_CASES`` feeds pytest (``tests/ops/test_grid.py``), ``cnnjax audit`` and the per-op
benchmarks. ``QUICK_CASES`` is the subset the test suite and ``cnnjax audit --quick`` run.
"""

from __future__ import annotations

from cnnjax.audit.cases import (
    activation,
    conv,
    conv_transpose,
    dropout,
    linear,
    loss,
    norm,
    pad,
    pool,
    pool_adaptive,
    shape,
    upsample,
)
from cnnjax.audit.cases._case import Case

ALL_CASES: tuple[Case, ...] = tuple(
    c
    for family in (
        conv,
        conv_transpose,
        linear,
        pool,
        pool_adaptive,
        pad,
        upsample,
        activation,
        loss,
        norm,
        dropout,
        shape,
    )
    for c in family.CASES
)
QUICK_CASES: tuple[Case, ...] = tuple(c for c in ALL_CASES if c.quick)
CASES_BY_NAME: dict[str, Case] = {c.name: c for c in ALL_CASES}

if len(CASES_BY_NAME) != len(ALL_CASES):
    _seen: set[str] = set()
    _dups = sorted({c.name for c in ALL_CASES if c.name in _seen or _seen.add(c.name)})
    raise ValueError(f"duplicate case names in the grid: {_dups}")

__all__ = ["ALL_CASES", "CASES_BY_NAME", "QUICK_CASES", "Case"]
