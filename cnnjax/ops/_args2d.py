"""Argument checks shared by the round-2 spatial ops (conv_transpose2d, pad2d, upsample2d).

Local to these ops for now (``_util`` is being restructured); the pair and explicit-padding
normalisers repeat ``_util.pair`` / ``_util.padding_2d`` in kind, except that padding may be
negative where an op allows cropping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Pair = tuple[int, int]
Padding2D = tuple[tuple[int, int], tuple[int, int]]

_PADDING_FORMS = "an int, an (h, w) pair or ((top, bottom), (left, right))"


def is_int(v: Any) -> bool:
    """A Python or NumPy integer that is not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_pair(value: Any, name: str, op: str, *, minimum: int) -> Pair:
    """An int or an ``(h, w)`` pair of ints as a pair, each ``>= minimum``.

    >>> int_pair(2, "stride", "conv_transpose2d", minimum=1)
    (2, 2)
    """
    if is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, Sequence) and len(value) == 2 and all(is_int(v) for v in value):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: `{name}` must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{op}: `{name}` must be >= {minimum} in each dimension, got {value!r}")
    return result


def explicit_padding(padding: Any, op: str, *, allow_negative: bool = False) -> Padding2D:
    """An int, an ``(h, w)`` pair or ``((t, b), (l, r))`` as ``((t, b), (l, r))``.

    >>> explicit_padding((1, 2), "pad2d")
    ((1, 1), (2, 2))
    """
    if is_int(padding):
        result = ((int(padding),) * 2, (int(padding),) * 2)
    elif isinstance(padding, Sequence) and len(padding) == 2 and all(is_int(v) for v in padding):
        result = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == 2
        and all(isinstance(v, Sequence) and len(v) == 2 and all(map(is_int, v)) for v in padding)
    ):
        result = tuple((int(v[0]), int(v[1])) for v in padding)
    else:
        raise TypeError(f"{op}: `padding` must be {_PADDING_FORMS}, got {padding!r}")
    if not allow_negative and min(min(result[0]), min(result[1])) < 0:
        raise ValueError(f"{op}: `padding` must be non-negative, got {padding!r}")
    return result


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


def acc_dtype(dtype: Any) -> Any:
    """float32 for the low-precision floats (bfloat16, float16), else ``dtype`` itself."""
    dtype = jnp.dtype(dtype)
    return jnp.dtype(jnp.float32) if dtype.itemsize < 4 else dtype
