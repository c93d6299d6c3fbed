"""Reference transposed convolution: one ``lax.conv_general_dilated`` with ``lhs_dilation``.

Same signature as ``cnnjax.ops.conv_transpose2d`` and nothing shared with it: the stride
dilates the input, the spatially flipped kernel (I and O swapped within each group) runs over
it with ``d (K - 1) - p`` padding before and ``d (K - 1) - p + output_padding`` after, and
JAX's autodiff supplies the gradients. Validation is the op's job.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _two(v):
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


def _crops(padding, output_padding, kernel_hw, stride, dilation):
    """Per axis ``(crop_top, crop_bottom, output_padding)``; SAME as ``lax.conv_transpose``."""
    q = _two(output_padding)
    if isinstance(padding, str) and padding.upper() == "SAME":
        out = []
        for kk, s, d in zip(kernel_hw, stride, dilation, strict=True):
            k = d * (kk - 1) + 1
            out.append(((k - s) // 2, k - s - (k - s) // 2, 0) if k >= s else (0, 0, s - k))
        return out
    if isinstance(padding, str):
        padding = 0
    if np.ndim(padding) <= 1:
        p = _two(padding)
        return [(p[0], p[0], q[0]), (p[1], p[1], q[1])]
    return [(int(a), int(b), qq) for (a, b), qq in zip(padding, q, strict=True)]


def conv_transpose2d(
    x: Any,
    w: Any,
    b: Any = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> jax.Array:
    """PyTorch's ``conv_transpose2d`` in NHWC with an HWIO ``(KH, KW, C_out/G, C_in)`` kernel."""
    x, w = jnp.asarray(x), jnp.asarray(w)
    s, d = _two(stride), _two(dilation)
    kh, kw, c_out_g, c_in = w.shape
    g = groups
    crops = _crops(padding, output_padding, (kh, kw), s, d)
    # (KH, KW, C_out/G, C_in) -> per group, swap I/O: (KH, KW, C_in/G, C_out)
    wt = jnp.flip(w, (0, 1)).reshape(kh, kw, c_out_g, g, c_in // g)
    wt = wt.transpose(0, 1, 4, 3, 2).reshape(kh, kw, c_in // g, g * c_out_g)
    pads = [
        (dd * (kk - 1) - lo, dd * (kk - 1) - hi + q)
        for (lo, hi, q), kk, dd in zip(crops, (kh, kw), d, strict=True)
    ]
    acc = jnp.float32 if x.dtype.itemsize < 4 else x.dtype
    y = lax.conv_general_dilated(
        x,
        wt,
        window_strides=(1, 1),
        padding=pads,
        lhs_dilation=s,
        rhs_dilation=d,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=g,
        preferred_element_type=acc,
    )
    if b is not None:
        y = y + jnp.asarray(b).astype(acc).reshape(1, 1, 1, -1)
    return y.astype(x.dtype)
