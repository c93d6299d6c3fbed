"""The machine's own ceiling: float32 matmul GFLOP/s, measured in the same run.

Every achieved GFLOP/s of the benchmark is reported as a fraction of this number, so results
from different machines (or a busy machine) compare on the same footing.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from cnnjax.bench.timing import time_call

__all__ = ["matmul_ceiling"]


def matmul_ceiling(size: int = 2048, *, repeats: int = 10, dtype: Any = jnp.float32) -> dict:
    """Best and median GFLOP/s of a jitted ``size x size @ size x size`` matmul.

    The FLOP count is ``2 * size**3``. The best run is the ceiling (the machine is shared, so
    the median understates it); both are returned.
    """
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (size, size), dtype)
    b = jax.random.normal(kb, (size, size), dtype)
    matmul = jax.jit(jnp.matmul)
    t = time_call(matmul, a, b, warmup=2, repeats=repeats)
    flops = 2.0 * size**3
    return {
        "size": size,
        "dtype": jnp.dtype(dtype).name,
        "median_s": t.median_s,
        "gflops_median": flops / t.median_s / 1e9,
        "gflops_best": flops / t.min_s / 1e9,
    }
