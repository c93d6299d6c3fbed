"""Reference pooling: ``lax.reduce_window``, differentiated by JAX.

Same signatures as ``cnnjax.ops.pool``. Only the static configuration is normalised with the
shared helpers; the arithmetic is one ``reduce_window`` per op, so autodiff supplies the
gradients (select-and-scatter for max, a padded window sum for average).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnjax.ops._util import acc_dtype, padding_2d, pair


def _config(x, window, stride, padding):
    window = pair(window, "window", "reference")
    stride = window if stride is None else pair(stride, "stride", "reference")
    pads = padding_2d(
        padding, "reference", in_hw=(x.shape[1], x.shape[2]), window_hw=window, stride=stride
    )
    return (1, *window, 1), (1, *stride, 1), ((0, 0), *pads, (0, 0))


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
    acc = acc_dtype(x.dtype)
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
    return jnp.mean(x.astype(acc_dtype(x.dtype)), axis=(1, 2)).astype(x.dtype)
