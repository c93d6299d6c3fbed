"""Cases for batch_norm and layer_norm.

All three arguments ``(x, scale, bias)`` are differentiable; the harness draws a random
cotangent for every output leaf, so batch_norm's VJP is checked with cotangents on ``y``,
``batch_mean`` and ``batch_var`` at once. Every case keeps at least two distinct values per
normalised group (a zero variance leaves only ``eps``, tested by hand in test_norm.py),
except ``layer_norm-d1``, where ``x_hat = 0`` and the gradient wrt ``x`` is exactly zero.
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def _norm_args(*shape: int):
    def make(r):
        c = shape[-1]
        return normal(r, *shape, scale=2.0), 1.0 + 0.5 * normal(r, c), normal(r, c)

    return make


_ALL = (0, 1, 2)

# Second order (jacfwd over every input entry) dominates the suite's time: the quick subset
# checks it on the small (N, C) and N = 1 batch-norm cases and on rank-2 layer norm;
# `quick=False` cases and the `-2nd` twins run it in `cnnjax audit` only.

CASES = [
    Case(
        "batch_norm-nhwc-2x5x3x4",
        "batch_norm",
        _norm_args(2, 5, 3, 4),
        argnums=_ALL,
        fd=True,
        second_order=False,
    ),
    Case(
        "batch_norm-nhwc-2x5x3x4-2nd",
        "batch_norm",
        _norm_args(2, 5, 3, 4),
        argnums=_ALL,
        quick=False,
    ),
    Case("batch_norm-nc-8x3", "batch_norm", _norm_args(8, 3), argnums=_ALL, fd=True),
    Case("batch_norm-n1-1x4x3x2", "batch_norm", _norm_args(1, 4, 3, 2), argnums=_ALL, fd=True),
    Case(
        "batch_norm-c1-3x4x5x1",
        "batch_norm",
        _norm_args(3, 4, 5, 1),
        argnums=_ALL,
        second_order=False,
    ),
    Case(
        "batch_norm-nc-eps0.1-5x2",
        "batch_norm",
        _norm_args(5, 2),
        argnums=_ALL,
        kwargs={"eps": 0.1},
        quick=False,
    ),
    Case("layer_norm-4x6", "layer_norm", _norm_args(4, 6), argnums=_ALL, fd=True),
    Case(
        "layer_norm-nhwc-2x3x4x5",
        "layer_norm",
        _norm_args(2, 3, 4, 5),
        argnums=_ALL,
        fd=True,
        second_order=False,
    ),
    Case(
        "layer_norm-nhwc-2x3x4x5-2nd",
        "layer_norm",
        _norm_args(2, 3, 4, 5),
        argnums=_ALL,
        quick=False,
    ),
    # D = 2: x_hat = ±sqrt(var / (var + eps)), so y hardly depends on x unless eps is large.
    Case(
        "layer_norm-d2-eps1-3x2",
        "layer_norm",
        _norm_args(3, 2),
        argnums=_ALL,
        kwargs={"eps": 1.0},
        quick=False,
    ),
    Case("layer_norm-d1-3x1", "layer_norm", _norm_args(3, 1), argnums=_ALL, second_order=False),
]
