"""Argument checks shared by the round-2 spatial ops (conv_transpose2d, pad2d, upsample2d).

The pair and explicit-padding normalisers are ``cnnjax.ops.geometry``'s (one implementation
for conv, pooling and these ops; ``int_pair`` is ``geometry.pair``), and ``acc_dtype`` is
``_util``'s; what is left here is the NHWC input check and a float conversion.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from cnnjax.ops._util import acc_dtype
from cnnjax.ops.geometry import Padding2D, Pair, explicit_padding, is_int
from cnnjax.ops.geometry import pair as int_pair

__all__ = [
    "Padding2D",
    "Pair",
    "acc_dtype",
    "as_float_array",
    "check_nhwc",
    "explicit_padding",
    "int_pair",
    "is_int",
]


def as_float_array(op: str, name: str, x: Any) -> jax.Array:
    """``jnp.asarray(x)``, refusing non-floating dtypes with a TypeError naming ``name``."""
    try:
        arr = jnp.asarray(x)
    except TypeError as err:
        raise TypeError(f"{op}: `{name}` must be a floating-point array, got {type(x)}") from err
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(f"{op}: `{name}` must be a floating-point array, got dtype {arr.dtype}")
    return arr


def check_nhwc(op: str, name: str, x: jax.Array) -> None:
    """Rank 4 ``(N, H, W, C)`` with positive ``H`` and ``W``."""
    if x.ndim != 4:
        raise ValueError(f"{op}: `{name}` must have rank 4 (N, H, W, C), got shape {x.shape}")
    if min(x.shape[1:3]) < 1:
        raise ValueError(f"{op}: `{name}` must have H >= 1 and W >= 1, got shape {x.shape}")
