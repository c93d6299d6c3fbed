"""Check 3: a VJP against central finite differences, in float64.

Two tests, as in ``torch.autograd.gradcheck``:

* **directional** (always, cheap): for random directions ``u`` and a random cotangent ``v``,
  ``<u, J^T v>`` from the VJP against ``<D_u f(x), v>`` by central differences; one row per
  differentiable leaf, ``u`` non-zero on that leaf only.
* **full Jacobian** (inputs with at most ``max_inputs`` elements): every column ``D_{e_j} f``
  by central differences against the Jacobian assembled row by row from the VJP with basis
  cotangents.

The central differences use the fourth-order stencil (points ``x +- h u``, ``x +- 2h u``), so a
step ``h = eps`` of ``1e-4`` keeps both truncation and rounding near 1e-12 even for outputs
of size 1e3 (a two-point stencil cannot reach 1e-6 there). Only floating outputs enter; ``h``
is absolute, so inputs should sit further than ``2 h |u|`` from any kink or tie. All perturbed
inputs are evaluated by one compiled ``lax.map`` of the forward, in chunks of ``CHUNK`` points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from cnnjax.audit._problem import Recorder, float_leaves

CHUNK = 16  # points per compiled call (one compile per audited function)
OUTPUT_FACTOR = 16  # the full Jacobian also needs outputs <= OUTPUT_FACTOR * max_inputs


class Evaluator:
    """``points (P, n_in) -> outputs (P, n_out)``: the float outputs of ``f`` at flat inputs."""

    def __init__(self, f: Callable, diff: Any):
        flat, unravel = ravel_pytree(diff)
        self.base = np.asarray(flat, np.float64)
        self.sizes = [int(np.size(a)) for a in jax.tree.leaves(diff)]

        def one(z):
            leaves = float_leaves(f(*unravel(z)))
            return jnp.concatenate([jnp.ravel(a) for a in leaves])

        self._map = jax.jit(lambda zs: jax.lax.map(one, zs))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        n = points.shape[0]
        padded = np.concatenate([points, np.repeat(points[-1:], -n % CHUNK, axis=0)])
        out = [
            np.asarray(self._map(padded[i : i + CHUNK]), np.float64)
            for i in range(0, padded.shape[0], CHUNK)
        ]
        return np.concatenate(out)[:n]

    def central(self, directions: np.ndarray, eps: float) -> np.ndarray:
        """The directional derivative along each row ``d`` of ``directions`` by the fourth-order
        central stencil ``(8 (f(x+hd) - f(x-hd)) - (f(x+2hd) - f(x-2hd))) / (12 h)``, ``h = eps``:
        its O(h^4) error lets ``h`` be large enough that rounding stays ~1e-12 of ``|f|``."""
        steps = [self.base + m * eps * directions for m in (1, -1, 2, -2)]
        p1, m1, p2, m2 = np.split(self(np.concatenate(steps)), 4)
        return (8 * (p1 - m1) - (p2 - m2)) / (12 * eps)


def directional(rec: Recorder, labels, ev: Evaluator, ct, grads, *, tol, rng, eps, directions):
    """Rows ``fd_directional``: one per differentiable leaf, ``directions`` probes each.

    ``grads`` is the VJP at the evaluator's point for the cotangent ``ct``; the worst
    element's index is the probe number.
    """
    v = np.concatenate([np.ravel(np.asarray(a, np.float64)) for a in float_leaves(ct)])
    starts = np.cumsum([0, *ev.sizes])
    for k, (label, g) in enumerate(zip(labels, jax.tree.leaves(grads), strict=True)):
        u = rng.standard_normal((directions, ev.sizes[k]))
        full = np.zeros((directions, ev.base.size))
        full[:, starts[k] : starts[k + 1]] = u
        lhs = u @ np.ravel(np.asarray(g, np.float64))
        rhs = ev.central(full, eps) @ v
        rec.compare(
            "fd_directional",
            "float64",
            [label],
            lhs,
            rhs,
            tol,
            f"<u, J^T v> vs central differences, eps={eps:g}, index = probe",
        )


def jacobian(
    rec: Recorder,
    labels,
    ev: Evaluator,
    vjp_row: Callable,
    n_out: int,
    *,
    tol,
    eps,
    max_inputs: int,
) -> bool:
    """Rows ``fd_jacobian``, one per differentiable leaf; ``False`` (nothing checked) when the
    inputs exceed ``max_inputs`` elements.

    ``vjp_row(o)`` is the flat VJP for the cotangent that is 1 at flat float output ``o``.
    """
    n_in = ev.base.size
    if n_in > max_inputs or n_out > OUTPUT_FACTOR * max(max_inputs, 1) or n_out == 0:
        return False
    fd = ev.central(np.eye(n_in), eps).T  # (n_out, n_in)
    hand = np.stack([vjp_row(o) for o in range(n_out)])
    start = 0
    for label, size in zip(labels, ev.sizes, strict=True):
        block = slice(start, start + size)
        rec.compare(
            "fd_jacobian",
            "float64",
            [label],
            hand[:, block],
            fd[:, block],
            tol,
            f"{n_out}x{n_in} Jacobian, eps={eps:g}, index = (output, input) flat",
        )
        start += size
    return True
