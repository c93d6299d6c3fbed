"""Shared validation and normalisation for the ops' static configuration.

Every public op validates at its boundary, from static shapes, so errors surface at the call
(also under ``jit``) with a message naming the op, the argument, what was expected and what
came. These helpers take the op and argument names for exactly that purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

# The geometry normalisers live in the public geometry module; re-exported for the ops.
from cnnjax.ops.geometry import (  # noqa: F401
    Padding2D,
    Pair,
    check_window_fits,
    out_size,
    padding_2d,
    pair,
)


def check_rank(op: str, name: str, x: Any, rank: int, layout: str) -> None:
    """Raise unless ``x`` has ``rank`` dimensions (``layout`` names them, e.g. ``(N, H, W, C)``)."""
    if jnp.ndim(x) != rank:
        raise ValueError(f"{op}: `{name}` must have rank {rank} {layout}, got shape {jnp.shape(x)}")


def check_float(op: str, name: str, x: Any) -> None:
    """Raise a TypeError unless ``x`` is an array of a floating dtype."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{op}: `{name}` must be a floating-point array, got dtype {dtype}")


def check_same_dtype(op: str, names: Sequence[str], *arrays: Any) -> None:
    """Raise a TypeError unless all (non-None) arrays share one dtype."""
    present = [(n, jnp.result_type(a)) for n, a in zip(names, arrays, strict=True) if a is not None]
    if len({d for _, d in present}) > 1:
        got = ", ".join(f"`{n}` {d}" for n, d in present)
        raise TypeError(f"{op}: arrays must share one dtype, got {got}")


def acc_dtype(dtype: Any) -> Any:
    """Accumulation dtype: float32 for low-precision floats, else the dtype itself."""
    dtype = jnp.dtype(dtype)
    return jnp.dtype(jnp.float32) if dtype.itemsize < 4 else dtype
