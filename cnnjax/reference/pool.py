"""Reference pooling: ``lax.reduce_window``, differentiated by JAX.

Same signatures as ``cnnjax.ops.pool``, and nothing shared with it: padding strings go to
``lax`` as they are and the other forms are spelled out here, so a bug in the ops' geometry
cannot hide in the yardstick too. The arithmetic is one ``reduce_window`` per op, and autodiff
supplies the gradients (select-and-scatter for max, a padded window sum for average).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _two(v):
    """An int or an ``(h, w)`` pair as a pair."""
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


def _pads(padding):
    """``padding`` as ``lax`` takes it: the string itself, or the four explicit pads."""
    if isinstance(padding, str):
        return padding.upper()
    if np.ndim(padding) == 0:
        p = int(padding)
        return ((0, 0), (p, p), (p, p), (0, 0))
    if np.ndim(padding) == 1:
        ph, pw = (int(v) for v in padding)
        return ((0, 0), (ph, ph), (pw, pw), (0, 0))
    (t, b), (l, r) = padding
    return ((0, 0), (int(t), int(b)), (int(l), int(r)), (0, 0))


def _acc(dtype):
    """float32 accumulation for the low-precision floats."""
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else dtype


def _config(x, window, stride, padding):
    window = _two(window)
    stride = window if stride is None else _two(stride)
    return (1, *window, 1), (1, *stride, 1), _pads(padding)


def max_pool2d(
    x: jax.Array, window: Any, *, stride: Any = None, padding: Any = "VALID"
) -> jax.Array:
    """``reduce_window`` max with a ``-inf`` init (padded cells never win)."""
    dims, strides, pads = _config(x, window, stride, padding)
    init = np.array(-np.inf, x.dtype)
    return lax.reduce_window(x, init, lax.max, dims, strides, pads)


def avg_pool2d(
    x: jax.Array,
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
) -> jax.Array:
    """``reduce_window`` sum (float32 for low precision) over the divisor.

    The divisor is ``KH * KW``, or with ``count_include_pad=False`` a ``reduce_window`` sum of
    ones over the same padding (the count of non-padded cells in each window).
    """
    dims, strides, pads = _config(x, window, stride, padding)
    acc = _acc(x.dtype)
    zero = np.array(0, acc)
    total = lax.reduce_window(x.astype(acc), zero, lax.add, dims, strides, pads)
    if count_include_pad:
        count = np.array(dims[1] * dims[2], acc)
    else:
        ones = jnp.ones((1, x.shape[1], x.shape[2], 1), acc)
        count = lax.reduce_window(ones, zero, lax.add, dims, strides, pads)
    return (total / count).astype(x.dtype)


def global_avg_pool2d(x: jax.Array) -> jax.Array:
    """``jnp.mean`` over H and W (float32 for low precision)."""
    return jnp.mean(x.astype(_acc(x.dtype)), axis=(1, 2)).astype(x.dtype)
