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
