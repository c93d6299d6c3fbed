"""Cases for dropout. The key is an argument but not a differentiable one: argnums=(0,)."""

from __future__ import annotations

import jax
import numpy as np

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def _x_key(*shape: int):
    def make(rng: np.random.Generator):
        return normal(rng, *shape), jax.random.key(int(rng.integers(2**31)))

    return make


def _x_no_key(*shape: int):
    return lambda rng: (normal(rng, *shape), None)


CASES = [
    Case(
        "dropout-nhwc-2x5x3x4-rate0.3", "dropout", _x_key(2, 5, 3, 4), kwargs={"rate": 0.3}, fd=True
    ),
    Case("dropout-vector-9-rate0.9", "dropout", _x_key(9), kwargs={"rate": 0.9}),
    Case("dropout-size1-1x1x6x1-rate0.3", "dropout", _x_key(1, 1, 6, 1), kwargs={"rate": 0.3}),
    Case("dropout-nhwc-2x3x3x2-rate0", "dropout", _x_key(2, 3, 3, 2), kwargs={"rate": 0.0}),
    Case(
        "dropout-nhwc-2x3x3x2-deterministic-nokey",
        "dropout",
        _x_no_key(2, 3, 3, 2),
        kwargs={"rate": 0.5, "deterministic": True},
    ),
    Case(
        "dropout-channel-2x3x4x5-rate0.5",
        "dropout",
        _x_key(2, 3, 4, 5),
        kwargs={"rate": 0.5, "broadcast_dims": (1, 2)},
        fd=True,
    ),
    Case(
        "dropout-bcast-neg-axis-3x4-rate0.3",
        "dropout",
        _x_key(3, 4),
        kwargs={"rate": 0.3, "broadcast_dims": (-1,)},
        quick=False,
    ),
]
