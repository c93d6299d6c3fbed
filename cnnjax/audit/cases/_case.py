"""The ``Case`` record: one named configuration of one op, shared by tests, audit and benchmarks."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from cnnjax.audit.tolerances import Tolerance

ArgMaker = Callable[[np.random.Generator], tuple[Any, ...]]


@dataclasses.dataclass(frozen=True)
class Case:
    """One op configuration of the case grid.

    Attributes:
      name: unique, descriptive, e.g. ``"conv2d-k3-s2-same-n2c3"``.
      op: the public op name; the same name is looked up in ``cnnjax.ops`` and
        ``cnnjax.reference``.
      make_args: ``rng -> args``: the positional arguments, floating ones as float64 NumPy
        arrays (the harness casts them to the dtype under test), others (int labels, PRNG
        keys) as they are. Random inputs must stay off kinks and ties.
      kwargs: static keyword configuration, passed identically to op and reference.
      argnums: positions of the differentiable arguments.
      second_order: whether grad-of-grad and jacfwd-of-grad are checked.
      fd: whether the full finite-difference checks run in the quick (CI) subset; the
        full audit runs finite differences on every case.
      quick: whether the case is in the ``--quick`` subset that the test suite runs.
      tol: per-dtype overrides of ``TOLERANCES``, e.g. ``{"float32": Tolerance(...)}``.
      tol_reason: required when ``tol`` is given: why this case needs looser bounds.
    """

    name: str
    op: str
    make_args: ArgMaker
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    argnums: tuple[int, ...] = (0,)
    second_order: bool = True
    fd: bool = False
    quick: bool = True
    tol: Mapping[str, Tolerance] = dataclasses.field(default_factory=dict)
    tol_reason: str = ""

    def __post_init__(self):
        if self.tol and not self.tol_reason:
            raise ValueError(f"case {self.name}: a `tol` override needs a `tol_reason`")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    def args(self, seed: int = 0) -> tuple[Any, ...]:
        """The case's positional arguments, reproducible from the case name and ``seed``."""
        digest = hashlib.sha256(f"{self.name}:{seed}".encode()).digest()
        return self.make_args(np.random.default_rng(int.from_bytes(digest[:8], "little")))

    def bind(self, module) -> Callable[..., Any]:
        """The op from ``module`` (``cnnjax.ops`` or ``cnnjax.reference``) with ``kwargs`` bound."""
        return functools.partial(getattr(module, self.op), **self.kwargs)
