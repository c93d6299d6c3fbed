"""The one per-dtype tolerance table shared by the tests, ``check_vjp`` and ``cnnjax audit``.

Errors are measured relative to the largest absolute entry of the reference (so a gradient
with a few tiny entries is not judged by them): ``max|got - want| / max(max|want|, tiny)``.
A case may override an entry only with a comment saying why (``Case.tol`` / ``tol_reason``).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Relative tolerances for one dtype.

    Attributes:
      fwd: forward output vs the reference.
      grad: VJP (and second order) vs autodiff of the reference.
      fd: VJP vs central finite differences (float64 only; FD is itself approximate).
    """

    fwd: float
    grad: float
    fd: float


TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(fwd=1e-10, grad=1e-10, fd=1e-6),
    "float32": Tolerance(fwd=1e-4, grad=1e-4, fd=1e-6),
    "bfloat16": Tolerance(fwd=1e-1, grad=1e-1, fd=1e-6),
}


def tolerance_for(dtype) -> Tolerance:
    """Look up the tolerance row of a dtype (``float16`` uses the bfloat16 row)."""
    name = jnp.dtype(dtype).name
    if name == "float16":
        name = "bfloat16"
    try:
        return TOLERANCES[name]
    except KeyError:
        raise ValueError(f"no tolerance for dtype {name}; known: {sorted(TOLERANCES)}") from None


def relative_error(got, want, scale=None) -> tuple[float, float, tuple[int, ...]]:
    """Return ``(worst_abs_err, worst_rel_err, index_of_worst)`` of ``got`` against ``want``.

    The relative error divides by ``scale``, by default the largest ``|want|`` entry (at least
    the dtype's tiny). Both are compared in float64 on the host.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise ValueError(f"shape mismatch: got {got.shape}, want {want.shape}")
    if got.size == 0:
        return 0.0, 0.0, ()
    diff = np.abs(got - want)
    diff = np.where(np.isnan(diff), np.inf, diff)
    flat = int(np.argmax(diff))
    worst = float(diff.reshape(-1)[flat])
    if scale is None:
        scale = float(np.max(np.abs(want)))
    scale = max(scale, np.finfo(np.float64).tiny)
    return worst, worst / scale, tuple(int(i) for i in np.unravel_index(flat, diff.shape))
