"""The NHWC input check shared by the round-2 spatial ops (conv_transpose2d, pad2d, upsample2d).

Their other argument helpers are the ones every op uses: pairs and explicit padding from
``cnnjax.ops.geometry``, the float conversion from ``cnnjax.ops._arraylike``, ``acc_dtype``
from ``cnnjax.ops._util``.
"""

from __future__ import annotations

import jax

__all__ = ["check_nhwc"]


def check_nhwc(op: str, name: str, x: jax.Array) -> None:
    """Rank 4 ``(N, H, W, C)`` with positive ``H`` and ``W``."""
    if x.ndim != 4:
        raise ValueError(f"{op}: `{name}` must have rank 4 (N, H, W, C), got shape {x.shape}")
    if min(x.shape[1:3]) < 1:
        raise ValueError(f"{op}: `{name}` must have H >= 1 and W >= 1, got shape {x.shape}")
