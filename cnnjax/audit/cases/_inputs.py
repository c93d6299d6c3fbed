"""Input generators for the case grid: random, reproducible, and off kinks and ties."""

from __future__ import annotations

import numpy as np


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Standard-normal float64 array times ``scale``."""
    return scale * rng.standard_normal(shape)


def off_kink(rng: np.random.Generator, *shape: int, at: float = 0.0, margin: float = 0.05):
    """Normal float64 values kept at least ``margin`` away from the kink ``at``."""
    x = rng.standard_normal(shape)
    return at + np.where(x >= 0, 1.0, -1.0) * (margin + np.abs(x))


def distinct(rng: np.random.Generator, *shape: int, gap: float = 1e-2) -> np.ndarray:
    """A random permutation of evenly spaced values ``gap`` apart: no ties anywhere."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2) * gap
    return rng.permutation(values).reshape(shape)


def normal_args(*shape: int):
    """``make_args`` of a one-argument case: ``(normal(rng, *shape),)``."""
    return lambda r: (normal(r, *shape),)


def tie_free_args(*shape: int):
    """``make_args`` of a one-argument max-pooling case: ``(distinct(rng, *shape),)``.

    Under 400 elements the values lie in (-2, 2), where bfloat16's spacing (<= 2**-7) is below
    the ``1e-2`` gap, so the bfloat16 cast stays tie-free too; larger shapes are refused.
    """
    if int(np.prod(shape)) >= 400:
        raise ValueError(f"max-pool case shape {shape} has >= 400 elements: bf16 ties")
    return lambda r: (distinct(r, *shape),)
