"""Gradient-correctness audits: ``check_vjp`` and the case grid.

``check_vjp(fn, reference, *args)`` audits any function with a custom VJP against JAX
autodiff of a reference (forward, VJP, finite differences, jit/vmap, second order, dtypes,
edge inputs) and returns an ``AuditResult``; ``cnnjax audit`` runs it over the case grid.
"""

from cnnjax.audit.check import check_vjp
from cnnjax.audit.edge import EdgeInput
from cnnjax.audit.report import CHECKS, AuditResult, CheckResult, GradientMismatchError
from cnnjax.audit.tolerances import TOLERANCES, Tolerance

__all__ = [
    "CHECKS",
    "TOLERANCES",
    "AuditResult",
    "CheckResult",
    "EdgeInput",
    "GradientMismatchError",
    "Tolerance",
    "check_vjp",
]
