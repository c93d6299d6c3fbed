"""Cases for the elementwise activations."""

from __future__ import annotations

import numpy as np

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal, off_kink


def _with_extremes(rng: np.random.Generator, n: int) -> tuple[np.ndarray]:
    """``n`` standard normals plus large magnitudes (±30, ±12): the stability corner."""
    extremes = np.array([-30.0, -12.0, 12.0, 30.0])
    return (rng.permutation(np.concatenate([normal(rng, n), extremes])),)


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
]
