"""Reference pooling, plainly, differentiated by JAX.

Same signatures as ``cnnjax.ops.pool``, and nothing shared with it: the geometry (SAME pads
from ``lax.padtype_to_pads``, PyTorch's ``ceil_mode`` rule) is spelled out here, so a bug in
the ops' geometry cannot hide in the yardstick too. Max pooling gathers every window with
index arrays and picks its cell by the DESIGN's rule (the first NaN, else the first maximum
among input cells); autodiff of that gather routes the gradient. Average pooling is a
``lax.reduce_window`` sum over a ``reduce_window`` count of the cells that count.
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


def _explicit_pads(padding, in_hw, window, stride):
    """``((top, bottom), (left, right))`` from any padding form (window: dilated)."""
    if isinstance(padding, str):
        return tuple(tuple(p) for p in lax.padtype_to_pads(in_hw, window, stride, padding))
    if np.ndim(padding) == 0:
        return ((int(padding),) * 2,) * 2
    if np.ndim(padding) == 1:
        return ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    return tuple((int(a), int(b)) for a, b in padding)


def _axis(size, pads, k, s, ceil_mode):
    """Output length and ceil-mode overhang of one axis (PyTorch's pooling_output_shape)."""
    span = size + pads[0] + pads[1] - k
    n_out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n_out - 1) * s >= size + pads[0]:
        n_out -= 1
    return n_out, max((n_out - 1) * s + k - (size + pads[0] + pads[1]), 0)


def _geometry(x, window, stride, padding, dilation, ceil_mode):
    window = _two(window)
    stride = window if stride is None else _two(stride)
    dilation = _two(dilation)
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, window, strict=True))
    pads = _explicit_pads(padding, x.shape[1:3], eff, stride)
    axes = [
        _axis(n, p, k, s, ceil_mode)
        for n, p, k, s in zip(x.shape[1:3], pads, eff, stride, strict=True)
    ]
    return window, stride, dilation, pads, axes


def max_pool2d(
    x: jax.Array,
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> jax.Array:
    """Gather each window; pick the first NaN, else the first maximum among input cells."""
    window, stride, dilation, pads, axes = _geometry(
        x, window, stride, padding, dilation, ceil_mode
    )
    index, real = [], []
    for size, (top, _), k, s, d, (n_out, _) in zip(
        x.shape[1:3], pads, window, stride, dilation, axes, strict=True
    ):
        rows = np.arange(n_out)[:, None] * s + np.arange(k)[None, :] * d - top  # (out, k)
        index.append(np.clip(rows, 0, size - 1))
        real.append((rows >= 0) & (rows < size))
    (rows, cols), (ho, _), (wo, _) = index, *axes
    # x[:, rows[i, kh], cols[j, kw], :] as (N, H_out, W_out, KH, KW, C), then the window's
    # cells on the last axis in row-major order: (N, H_out, W_out, C, KH*KW)
    cells = x[:, rows[:, None, :, None], cols[None, :, None, :], :]
    cells = jnp.moveaxis(cells.reshape(x.shape[0], ho, wo, -1, x.shape[3]), 3, 4)
    inside = real[0][:, None, :, None] & real[1][None, :, None, :]  # (H_out, W_out, KH, KW)
    inside = inside.reshape(ho, wo, -1)[None, :, :, None, :]
    values = jnp.where(inside, cells, -jnp.inf)
    nan = jnp.isnan(values)
    top = jnp.max(jnp.where(nan, -jnp.inf, values), axis=-1, keepdims=True)
    first_max = jnp.argmax((values == top) & inside, axis=-1)
    pick = jnp.where(jnp.any(nan, axis=-1), jnp.argmax(nan, axis=-1), first_max)
    return jnp.take_along_axis(values, pick[..., None], axis=-1)[..., 0]


def _acc(dtype):
    """float32 accumulation for the low-precision floats."""
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else dtype


def avg_pool2d(
    x: jax.Array,
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
    ceil_mode: bool = False,
    divisor_override: Any = None,
) -> jax.Array:
    """``reduce_window`` sum (float32 for low precision) over the divisor.

    The divisor is ``divisor_override``, or a ``reduce_window`` sum of ones that are there
    over input + padding (``count_include_pad``) or over the input only, the ceil-mode
    overhang counting as zeros.
    """
    window, stride, _, pads, axes = _geometry(x, window, stride, padding, 1, ceil_mode)
    over = [(0, 0), (0, axes[0][1]), (0, axes[1][1]), (0, 0)]
    full = [(0, 0), (pads[0][0], pads[0][1] + axes[0][1]), (pads[1][0], pads[1][1] + axes[1][1])]
    full.append((0, 0))
    acc = _acc(x.dtype)
    zero = np.array(0, acc)
    dims, strides = (1, *window, 1), (1, *stride, 1)
    total = lax.reduce_window(x.astype(acc), zero, lax.add, dims, strides, full)
    if divisor_override is not None:
        count = np.array(divisor_override, acc)
    elif count_include_pad:
        h, w = (n + p[0] + p[1] for n, p in zip(x.shape[1:3], pads, strict=True))
        count = lax.reduce_window(jnp.ones((1, h, w, 1), acc), zero, lax.add, dims, strides, over)
    else:
        ones = jnp.ones((1, x.shape[1], x.shape[2], 1), acc)
        count = lax.reduce_window(ones, zero, lax.add, dims, strides, full)
    return (total / count).astype(x.dtype)


def global_avg_pool2d(x: jax.Array) -> jax.Array:
    """``jnp.mean`` over H and W (float32 for low precision)."""
    return jnp.mean(x.astype(_acc(x.dtype)), axis=(1, 2)).astype(x.dtype)
