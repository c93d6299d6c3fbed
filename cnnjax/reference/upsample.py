"""Reference resizing: four-corner gathers with bilinear weights, differentiated by JAX.

Same signature as ``cnnjax.ops.upsample2d`` and nothing shared with it. The source coordinate
of each output row and column is computed here as ``F.interpolate`` does (nearest in float32,
its legacy arithmetic; the bilinear index floored in float32, as ATen's ``floorf``; an axis
whose size is unchanged copied); the value is the weighted sum of the four neighbouring cells.
Validation is the op's job.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _coords(n_in, n_out, scale, mode, align_corners):
    """``(lo, hi, frac)`` index arrays of one axis."""
    j = np.arange(n_out)
    if n_out == n_in:  # both modes copy an unchanged size, whatever the scale says
        return j, j, np.zeros(n_out)
    if mode == "nearest" and n_out == 2 * n_in:  # PyTorch's nearest_idx shortcut
        return j // 2, j // 2, np.zeros(n_out)
    if mode == "nearest":
        step = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
        lo = np.minimum(np.floor(j.astype(np.float32) * step).astype(int), n_in - 1)
        return lo, lo, np.zeros(n_out)
    if align_corners:
        src = j * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        step = 1.0 / scale if scale else n_in / n_out
        src = np.clip((j + 0.5) * step - 0.5, 0.0, None)
    lo = np.minimum(np.floor(np.float32(src)).astype(int), n_in - 1)  # floorf, as ATen does
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, np.clip(src - lo, 0.0, 1.0)


def upsample2d(
    x: Any,
    *,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool = False,
) -> jax.Array:
    """``F.interpolate(mode='nearest' | 'bilinear')`` on the H and W axes of NHWC ``x``."""
    x = jnp.asarray(x)
    h, w = x.shape[1:3]
    if size is not None:
        out = (size, size) if np.ndim(size) == 0 else tuple(size)
        scales = (None, None)
    else:
        scales = (scale_factor,) * 2 if np.ndim(scale_factor) == 0 else tuple(scale_factor)
        out = (math.floor(h * scales[0]), math.floor(w * scales[1]))
    h0, h1, fh = _coords(h, out[0], scales[0], mode, align_corners)
    w0, w1, fw = _coords(w, out[1], scales[1], mode, align_corners)
    acc = jnp.float32 if x.dtype.itemsize < 4 else x.dtype
    xa = x.astype(acc)
    fh = jnp.asarray(fh, acc)[None, :, None, None]
    fw = jnp.asarray(fw, acc)[None, None, :, None]

    def corner(rows, cols):
        return xa[:, rows][:, :, cols]

    top = corner(h0, w0) * (1 - fw) + corner(h0, w1) * fw
    bottom = corner(h1, w0) * (1 - fw) + corner(h1, w1) * fw
    return (top * (1 - fh) + bottom * fh).astype(x.dtype)
