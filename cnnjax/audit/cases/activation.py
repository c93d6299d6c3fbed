"""Cases for the elementwise activations."""

from __future__ import annotations

import numpy as np

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal, off_kink


def _with_extremes(rng: np.random.Generator, n: int) -> tuple[np.ndarray]:
    """``n`` standard normals plus large magnitudes (±30, ±12): the stability corner."""
    extremes = np.array([-30.0, -12.0, 12.0, 30.0])
    return (rng.permutation(np.concatenate([normal(rng, n), extremes])),)


def _off_kinks(rng: np.random.Generator, *shape: int, kinks=(0.0,), scale=4.0, margin=0.05):
    """Normals times ``scale``, each moved at least ``margin`` away from every kink."""
    x = scale * rng.standard_normal(shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin) * 2, x)
    return x


def _prelu_args(*shape: int, shared: bool = False):
    def make(rng: np.random.Generator):
        alpha = rng.uniform(0.05, 0.5, size=(1,) if shared else (shape[-1],))
        return off_kink(rng, *shape), alpha

    return make


CASES = [
    Case("relu-nhwc-2x5x3x4", "relu", lambda r: (off_kink(r, 2, 5, 3, 4),), fd=True),
    Case("relu-vector-7", "relu", lambda r: (off_kink(r, 7),)),
    Case("leaky_relu-nhwc-2x5x3x4", "leaky_relu", lambda r: (off_kink(r, 2, 5, 3, 4),), fd=True),
    Case(
        "leaky_relu-vector-7-slope0.2",
        "leaky_relu",
        lambda r: (off_kink(r, 7),),
        kwargs={"negative_slope": 0.2},
    ),
    Case(
        "leaky_relu-size1-1x1x3x1-slope-0.5",
        "leaky_relu",
        lambda r: (off_kink(r, 1, 1, 3, 1),),
        kwargs={"negative_slope": -0.5},
    ),
    Case("elu-nhwc-2x4x3x5", "elu", lambda r: (off_kink(r, 2, 4, 3, 5),), fd=True),
    Case("elu-vector-6-alpha0.5", "elu", lambda r: (off_kink(r, 6),), kwargs={"alpha": 0.5}),
    Case(
        "elu-size1-1x3x1x1-alpha2",
        "elu",
        lambda r: (off_kink(r, 1, 3, 1, 1),),
        kwargs={"alpha": 2.0},
    ),
    Case("sigmoid-nhwc-2x3x4x2", "sigmoid", lambda r: (normal(r, 2, 3, 4, 2, scale=3.0),), fd=True),
    Case("sigmoid-vector-large", "sigmoid", lambda r: _with_extremes(r, 6)),
    Case("tanh-nhwc-2x3x4x2", "tanh", lambda r: (normal(r, 2, 3, 4, 2, scale=2.0),), fd=True),
    Case("tanh-size1-1x1x1x5", "tanh", lambda r: (normal(r, 1, 1, 1, 5),)),
    Case("tanh-vector-large", "tanh", lambda r: _with_extremes(r, 6)),
    Case("gelu-tanh-nhwc-2x3x4x2", "gelu", lambda r: (normal(r, 2, 3, 4, 2, scale=2.0),), fd=True),
    Case(
        "gelu-erf-nhwc-2x3x4x2",
        "gelu",
        lambda r: (normal(r, 2, 3, 4, 2, scale=2.0),),
        kwargs={"approximate": False},
        fd=True,
    ),
    Case("gelu-tanh-vector-large", "gelu", lambda r: _with_extremes(r, 6)),
    Case(
        "gelu-erf-vector-large",
        "gelu",
        lambda r: _with_extremes(r, 6),
        kwargs={"approximate": False},
    ),
    Case(
        "gelu-erf-size1-1x3x1x1",
        "gelu",
        lambda r: (normal(r, 1, 3, 1, 1),),
        kwargs={"approximate": False},
    ),
    Case(
        "softplus-nhwc-2x3x4x2", "softplus", lambda r: (normal(r, 2, 3, 4, 2, scale=3.0),), fd=True
    ),
    Case("softplus-vector-large", "softplus", lambda r: _with_extremes(r, 6)),
    Case("relu6-nhwc-2x4x3x5", "relu6", lambda r: (_off_kinks(r, 2, 4, 3, 5, kinks=(0, 6)),)),
    Case(
        "relu6-vector-9-scale8",
        "relu6",
        lambda r: (_off_kinks(r, 9, kinks=(0, 6), scale=8.0),),
        fd=True,
        quick=False,
    ),
    Case(
        "prelu-nhwc-2x3x4x5-alpha-c",
        "prelu",
        _prelu_args(2, 3, 4, 5),
        argnums=(0, 1),
        fd=True,
    ),
    Case(
        "prelu-nhwc-2x3x2x4-alpha-1",
        "prelu",
        _prelu_args(2, 3, 2, 4, shared=True),
        argnums=(0, 1),
    ),
    Case("prelu-c1-5x1-alpha-c", "prelu", _prelu_args(5, 1), argnums=(0, 1), quick=False),
    Case(
        "prelu-vector-7-alpha-1", "prelu", _prelu_args(7, shared=True), argnums=(0, 1), quick=False
    ),
    Case("silu-nhwc-2x3x4x2", "silu", lambda r: (normal(r, 2, 3, 4, 2, scale=3.0),), fd=True),
    Case("silu-vector-large", "silu", lambda r: _with_extremes(r, 6)),
    Case(
        "hardswish-nhwc-2x4x3x5",
        "hardswish",
        lambda r: (_off_kinks(r, 2, 4, 3, 5, kinks=(-3, 3)),),
        fd=True,
    ),
    Case(
        "hardswish-vector-9-scale8",
        "hardswish",
        lambda r: (_off_kinks(r, 9, kinks=(-3, 3), scale=8.0),),
        quick=False,
    ),
]
