"""Cases for batch_norm, batch_norm_inference, layer_norm, group_norm and instance_norm.

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


def _no_affine(*shape: int):
    return lambda r: (normal(r, *shape, scale=2.0), None, None)


def _scale_only(*shape: int):
    return lambda r: (normal(r, *shape, scale=2.0), 1.0 + 0.5 * normal(r, shape[-1]), None)


def _layer_args(shape: tuple[int, ...], k: int):
    """``x`` and ``scale``/``bias`` shaped like its ``k`` trailing axes."""

    def make(r):
        p = shape[len(shape) - k :]
        return normal(r, *shape, scale=2.0), 1.0 + 0.5 * normal(r, *p), normal(r, *p)

    return make


def _inference_args(*shape: int):
    """``(x, mean, var, scale, bias)`` with ``var`` in [0.5, 2]: FD steps keep it positive."""

    def make(r):
        c = shape[-1]
        var = 0.5 + 1.5 * r.random(c)
        return (
            normal(r, *shape, scale=2.0),
            normal(r, c),
            var,
            1.0 + 0.5 * normal(r, c),
            normal(r, c),
        )

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
    Case(
        "batch_norm-noaffine-nhwc-2x3x3x2",
        "batch_norm",
        _no_affine(2, 3, 3, 2),
        fd=True,
        second_order=False,
    ),
    Case("batch_norm-scaleonly-nc-6x3", "batch_norm", _scale_only(6, 3), argnums=(0, 1)),
    Case(
        "batch_norm_inference-nhwc-2x4x3x3",
        "batch_norm_inference",
        _inference_args(2, 4, 3, 3),
        argnums=(0, 1, 2, 3, 4),
        fd=True,
    ),
    Case(
        "batch_norm_inference-noaffine-nc-5x4",
        "batch_norm_inference",
        lambda r: (*_inference_args(5, 4)(r)[:3], None, None),
        argnums=(0, 1, 2),
        quick=False,
    ),
    Case(
        "batch_norm_inference-n1c1-1x3x2x1",
        "batch_norm_inference",
        _inference_args(1, 3, 2, 1),
        argnums=(0, 1, 2, 3, 4),
        quick=False,
    ),
    Case(
        "layer_norm-hwc-2x3x4x2",
        "layer_norm",
        _layer_args((2, 3, 4, 2), 3),
        argnums=_ALL,
        kwargs={"axis": (-3, -2, -1)},
        fd=True,
        second_order=False,
    ),
    Case(
        "layer_norm-wc-noaffine-2x3x4x2",
        "layer_norm",
        _no_affine(2, 3, 4, 2),
        kwargs={"axis": (2, 3)},
        quick=False,
    ),
    Case("layer_norm-scaleonly-3x5", "layer_norm", _scale_only(3, 5), argnums=(0, 1), quick=False),
    Case(
        "group_norm-g2-nhwc-2x3x4x6",
        "group_norm",
        _norm_args(2, 3, 4, 6),
        argnums=_ALL,
        kwargs={"num_groups": 2},
        fd=True,
        second_order=False,
    ),
    Case(
        "group_norm-g3-n1-1x2x3x6",
        "group_norm",
        _norm_args(1, 2, 3, 6),
        argnums=_ALL,
        kwargs={"num_groups": 3},
    ),
    Case(
        "group_norm-g1-2x3x2x4",
        "group_norm",
        _norm_args(2, 3, 2, 4),
        argnums=_ALL,
        kwargs={"num_groups": 1},
        quick=False,
    ),
    Case(
        "group_norm-gC-2x2x5x3",
        "group_norm",
        _norm_args(2, 2, 5, 3),
        argnums=_ALL,
        kwargs={"num_groups": 3},
        quick=False,
    ),
    Case(
        "group_norm-g2-noaffine-nc-3x8",
        "group_norm",
        _no_affine(3, 8),
        kwargs={"num_groups": 2},
        quick=False,
    ),
    Case(
        "group_norm-g4-hneqw-2x5x2x8",
        "group_norm",
        _norm_args(2, 5, 2, 8),
        argnums=_ALL,
        kwargs={"num_groups": 4},
        quick=False,
    ),
    Case(
        "instance_norm-nhwc-2x3x4x3",
        "instance_norm",
        _norm_args(2, 3, 4, 3),
        argnums=_ALL,
        fd=True,
        second_order=False,
    ),
    Case(
        "instance_norm-noaffine-n1-1x4x3x2",
        "instance_norm",
        _no_affine(1, 4, 3, 2),
        quick=False,
    ),
]
