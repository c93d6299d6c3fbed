"""Reference conv2d: one ``lax.conv_general_dilated`` plus a bias broadcast, differentiated by JAX.

Deliberately independent of ``cnnjax.ops._util``: ``"VALID"``/``"SAME"`` go to ``lax`` as
strings (lax computes SAME itself), the other padding forms are spelled out here.
"""

from __future__ import annotations

import jax
from jax import lax


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _padding(padding):
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if all(isinstance(p, int) for p in padding):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return tuple(tuple(p) for p in padding)


def conv2d(x, w, b=None, *, stride=1, padding="VALID", dilation=1, groups=1) -> jax.Array:
    """NHWC x HWIO -> NHWC cross-correlation, as ``cnnjax.ops.conv2d``, in the inputs' dtype."""
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=_pair(stride),
        padding=_padding(padding),
        rhs_dilation=_pair(dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )
    if b is not None:
        y = y + b.reshape(1, 1, 1, -1)
    return y
