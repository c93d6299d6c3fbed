"""The machinery ``check_vjp``'s checks share: their settings, and compiled value-and-VJP
runners that each check family reuses (so a check whose inputs differ only in arrays
compiles once per dtype)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from cnnjax.audit._problem import Problem
from cnnjax.audit.tolerances import TOLERANCES, Tolerance

F64 = "float64"


@dataclasses.dataclass(frozen=True)
class Settings:
    """``check_vjp``'s options, resolved: the tolerance table, the low-precision dtypes,
    which check families run, the finite-difference budget and the seed."""

    tols: dict[str, Tolerance]
    dtypes: tuple[str, ...]
    second_order: bool
    fd_directions: int
    full_jacobian_max: int
    fd_eps: float
    transforms: bool
    seed: int


def tolerances(tol, rtol, dtypes) -> dict[str, Tolerance]:
    """``TOLERANCES`` with the caller's rows and float64 ``rtol`` applied; unknown dtypes
    raise a ValueError naming them."""
    unknown = sorted({*(tol or {}), *dtypes} - set(TOLERANCES))
    if unknown:
        raise ValueError(f"check_vjp: no tolerance row for {unknown}; known: {sorted(TOLERANCES)}")
    tols = {**TOLERANCES, **(tol or {})}
    if rtol is not None:
        tols[F64] = dataclasses.replace(tols[F64], fwd=rtol, grad=rtol)
    return tols


class Runners:
    """Compiled ``value_and_vjp`` of ``fn`` (or ``reference``), shared by checks whose inputs
    differ only in arrays (jit check, Jacobian rows, dtype checks, edge inputs), so each
    compiles once per dtype."""

    def __init__(self, prob: Problem):
        self.prob = prob
        self._cache: list[tuple[Any, Callable]] = []

    def __call__(self, which: str, args, diff, float_cts):
        f = self.prob.fn if which == "fn" else self.prob.reference
        y_like = jax.eval_shape(self.prob.restrict(f, args), *diff)
        key = (
            which,
            self.prob.static_key(args),
            jax.tree.structure(y_like),
            [np.shape(a) for a in jax.tree.leaves(y_like)],
        )
        run = next((r for k, r in self._cache if same(k, key)), None)
        if run is None:
            run = jax.jit(self.prob.value_and_vjp(f, y_like, args))
            self._cache.append((key, run))
        return run(diff, float_cts, self.prob.pass_arrays(args))


def eager(prob: Problem, f: Callable, args, diff, float_cts):
    """Un-jitted value and VJP: reuses the primitives compiled for the float64 eager run."""
    y_like = jax.eval_shape(prob.restrict(f, args), *diff)
    return prob.value_and_vjp(f, y_like, args)(diff, float_cts, prob.pass_arrays(args))


def same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable static arguments: not the same
        return False
