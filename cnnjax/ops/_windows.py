"""Window plumbing shared by the pooling ops: pad, slice per window offset, and transpose.

Every pooled output cell reads one window of the padded input. A forward pass loops over the
``KH * KW`` window offsets with strided slices of the padded input (:func:`window_slices`);
its transpose (:func:`window_transpose`) places each offset's cotangent back with a strided
*pad* and sums them. When the windows tile the input (:func:`tiles`), a reshape does both.
All of it reads the static :class:`~cnnjax.ops.geometry.WindowGeometry`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnjax.ops.geometry import Padding2D, WindowGeometry

__all__ = ["from_blocks", "pad", "real_cells", "tiles", "window_slices", "window_transpose"]


def pad(x: jax.Array, pads: Padding2D, value: Any) -> jax.Array:
    """Pad H and W of an NHWC array with the constant ``value`` (no-op without padding)."""
    if pads == ((0, 0), (0, 0)):
        return x
    config = ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0))
    return lax.pad(x, jnp.asarray(value, x.dtype), config)


def _offsets(geo: WindowGeometry) -> Iterator[tuple[int, int, int]]:
    """``(k, row, col)`` per window offset, ``k = kh * KW + kw`` in row-major order, with the
    offset's first row and column in the padded input (dilation applied)."""
    (kh_, kw_), (dh, dw) = geo.window, geo.dilation
    for kh in range(kh_):
        for kw in range(kw_):
            yield kh * kw_ + kw, kh * dh, kw * dw


def window_slices(xp: jax.Array, geo: WindowGeometry) -> Iterator[tuple[int, jax.Array]]:
    """Yield ``(k, x_k)`` for each window offset ``k`` of the padded input ``xp``.

    ``x_k[n, i, j, c] = xp[n, i * SH + kh * DH, j * SW + kw * DW, c]``: ``(N, H_out, W_out, C)``.
    """
    (sh, sw), (ho, wo) = geo.stride, geo.out_hw
    n, _, _, c = xp.shape
    for k, row, col in _offsets(geo):
        limit = (n, row + (ho - 1) * sh + 1, col + (wo - 1) * sw + 1, c)
        yield k, lax.slice(xp, (0, row, col, 0), limit, (1, sh, sw, 1))


def window_transpose(pieces: list[jax.Array], geo: WindowGeometry) -> jax.Array:
    """Transpose of :func:`window_slices` followed by cropping the padding.

    ``pieces[k]`` (shape ``(N, H_out, W_out, C)``) is scattered back to the input positions
    that offset ``k`` read, overlapping contributions add, and cells in the padding are
    dropped. Returns shape ``(N, H, W, C)``.

    Each piece is placed by a strided ``lax.pad`` (interior padding ``stride - 1``, low edge
    padding ``row - p_top``; negative edge padding crops) and the placed pieces are summed.
    """
    (sh, sw), ((pt, _), (pl, _)) = geo.stride, geo.pads
    (h, w), (ho, wo) = geo.in_hw, geo.out_hw
    zero = jnp.zeros((), pieces[0].dtype)
    total = None
    for k, row, col in _offsets(geo):
        config = (
            (0, 0, 0),
            (row - pt, pt + h - (row + (ho - 1) * sh + 1), sh - 1),
            (col - pl, pl + w - (col + (wo - 1) * sw + 1), sw - 1),
            (0, 0, 0),
        )
        placed = lax.pad(pieces[k], zero, config)
        total = placed if total is None else total + placed
    return total


def real_cells(geo: WindowGeometry) -> np.ndarray | None:
    """Static mask ``(KH * KW, H_out, W_out)``: which offsets of each window are input cells.

    ``None`` when every window lies inside the input (no cell of padding is ever read).
    """
    per_axis = []
    for size, (top, _), s, n_out, offsets in zip(
        geo.in_hw,
        geo.pads,
        geo.stride,
        geo.out_hw,
        (range(0, geo.effective[0], geo.dilation[0]), range(0, geo.effective[1], geo.dilation[1])),
        strict=True,
    ):
        rows = np.arange(n_out)[None, :] * s + np.asarray(offsets)[:, None] - top
        per_axis.append((rows >= 0) & (rows < size))  # (K, n_out)
    mask = per_axis[0][:, None, :, None] & per_axis[1][None, :, None, :]  # (KH, KW, Ho, Wo)
    if mask.all():
        return None
    return mask.reshape(-1, *geo.out_hw)


def tiles(geo: WindowGeometry) -> bool:
    """True when the windows tile the input: stride == window, no dilation, no padding."""
    return geo.stride == geo.window and geo.dilation == (1, 1) and geo.unpadded


def from_blocks(blocks: jax.Array, geo: WindowGeometry) -> jax.Array:
    """``(N, H_out, KH, W_out, KW, C)`` per-window cotangents to ``(N, H, W, C)``.

    For tiling windows this is the whole transpose of the window slices: a free reshape, then
    zero rows/columns for the ``H - H_out * KH`` trailing input rows no window read.
    """
    n, ho, kh, wo, kw, c = blocks.shape
    (h, w) = geo.in_hw
    out = blocks.reshape(n, ho * kh, wo * kw, c)
    if (h, w) == (ho * kh, wo * kw):
        return out
    zero = jnp.zeros((), out.dtype)
    return lax.pad(out, zero, ((0, 0, 0), (0, h - ho * kh, 0), (0, w - wo * kw, 0), (0, 0, 0)))
