r"""Spatial resizing of NHWC arrays (``F.interpolate``, nearest and bilinear), hand VJP.

Both modes are separable and linear: along each axis an output cell reads one source cell
(``nearest``) or a convex pair of neighbours (``bilinear``), so ``Y = A_H X A_W^T`` with fixed
interpolation matrices ``A`` (``out x in``) built here, statically, with PyTorch's index
arithmetic. The forward gathers (so an ``inf`` stays where it is); the VJP multiplies by the
transposed matrices.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnjax.ops._args2d import acc_dtype, as_float_array, check_nhwc, int_pair

__all__ = ["upsample2d"]

MODES = ("nearest", "bilinear")
_EXACT = lax.Precision.HIGHEST  # no reduced-precision matmul passes on GPU/TPU


class _Axis(NamedTuple):
    """One axis's interpolation: ``y[o] = w0[o] * x[i0[o]] + w1[o] * x[i1[o]]``."""

    i0: tuple[int, ...]
    i1: tuple[int, ...]
    w0: tuple[float, ...]
    w1: tuple[float, ...]
    size_in: int


def _nearest(size_in: int, size_out: int, scale: float | None) -> _Axis:
    """PyTorch's legacy nearest, in its float32 arithmetic: ``floor(dst * r)``, clamped.

    As PyTorch's ``nearest_idx``, an unchanged size copies and a doubled one takes ``dst // 2``,
    whatever ``scale`` says.
    """
    if size_out in (size_in, 2 * size_in):
        src = (
            tuple(range(size_out))
            if size_out == size_in
            else tuple(o // 2 for o in range(size_out))
        )
        return _Axis(src, src, (1.0,) * size_out, (0.0,) * size_out, size_in)
    r = np.float32(1.0 / scale) if scale is not None else np.float32(size_in) / np.float32(size_out)
    src = np.floor(np.arange(size_out, dtype=np.float32) * r).astype(np.int64)
    src = tuple(int(i) for i in np.minimum(src, size_in - 1))
    return _Axis(src, src, (1.0,) * size_out, (0.0,) * size_out, size_in)


def _bilinear(size_in: int, size_out: int, scale: float | None, align_corners: bool) -> _Axis:
    """PyTorch's ``compute_source_index_and_lambda``: the source index and its neighbour pair.

    As there, an unchanged size copies whatever ``scale`` says, the source index is
    ``area_pixel_compute_source_index`` (negative half-pixel indices clamped to 0) and its
    floor is taken in float32 (``floorf``), so an index a hair below an integer rounds up
    to it with weight 0 on the cell below.
    """
    if size_out == size_in:
        src = tuple(range(size_out))
        return _Axis(src, src, (1.0,) * size_out, (0.0,) * size_out, size_in)
    dst = np.arange(size_out, dtype=np.float64)
    if align_corners:
        r = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        src = r * dst
    else:
        r = 1.0 / scale if scale is not None else size_in / size_out
        src = np.maximum(r * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size_in - 1)
    i1 = np.where(i0 < size_in - 1, i0 + 1, i0)
    w1 = np.clip(src - i0, 0.0, 1.0)
    return _Axis(
        tuple(map(int, i0)),
        tuple(map(int, i1)),
        tuple(map(float, 1.0 - w1)),
        tuple(map(float, w1)),
        size_in,
    )


def _scales(op, scale_factor) -> tuple[float, float]:
    if isinstance(scale_factor, (int, float)) and not isinstance(scale_factor, bool):
        scale_factor = (scale_factor, scale_factor)
    ok = isinstance(scale_factor, (tuple, list)) and len(scale_factor) == 2
    if not ok or any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in scale_factor):
        raise TypeError(f"{op}: `scale_factor` must be a number or a pair, got {scale_factor!r}")
    if not all(math.isfinite(s) and s > 0 for s in scale_factor):
        raise ValueError(f"{op}: `scale_factor` must be finite and > 0, got {scale_factor!r}")
    return (float(scale_factor[0]), float(scale_factor[1]))


def _plan(op, in_hw, size, scale_factor, mode, align_corners) -> tuple[_Axis, _Axis]:
    """Validate the configuration and build both axes' interpolation."""
    if mode not in MODES:
        raise ValueError(f"{op}: `mode` must be one of {MODES}, got {mode!r}")
    if not isinstance(align_corners, bool):
        raise TypeError(f"{op}: `align_corners` must be a bool, got {align_corners!r}")
    if align_corners and mode == "nearest":
        raise ValueError(
            f"{op}: `align_corners`=True only applies to mode 'bilinear', got {mode!r}"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{op}: give exactly one of `size` and `scale_factor`, got size={size!r}, "
            f"scale_factor={scale_factor!r}"
        )
    if size is not None:
        out_hw, scales = int_pair(size, "size", op, minimum=1), (None, None)
    else:
        scales = _scales(op, scale_factor)
        out_hw = tuple(math.floor(h * s) for h, s in zip(in_hw, scales, strict=True))
        if min(out_hw) < 1:
            raise ValueError(
                f"{op}: `scale_factor` {scale_factor!r} gives an empty output {out_hw} "
                f"for H, W = {tuple(in_hw)}"
            )
    if mode == "nearest":
        return tuple(_nearest(*a) for a in zip(in_hw, out_hw, scales, strict=True))
    return tuple(
        _bilinear(h, o, s, align_corners) for h, o, s in zip(in_hw, out_hw, scales, strict=True)
    )


def upsample2d(
    x: jax.typing.ArrayLike,
    *,
    size: int | tuple[int, int] | None = None,
    scale_factor: float | tuple[float, float] | None = None,
    mode: str = "nearest",
    align_corners: bool = False,
) -> jax.Array:
    """Resize the H and W axes (``F.interpolate`` on NCHW, here NHWC).

    Args:
      x: input, shape ``(N, H, W, C)``, floating, ``H, W >= 1``.
      size: output ``(H_out, W_out)`` (or one int for both); smaller than the input is
        allowed (downsampling).
      scale_factor: a positive number or ``(sh, sw)``: ``H_out = floor(H * sh)``, and the
        source coordinates use ``1 / sh`` (``F.interpolate``'s default
        ``recompute_scale_factor=None``). Exactly one of ``size`` and ``scale_factor``.
      mode: ``"nearest"`` (PyTorch's legacy ``'nearest'``: source ``floor(dst * H/H_out)``,
        or ``floor(dst / sh)``, in float32 as PyTorch computes it) or ``"bilinear"``.
      align_corners: bilinear only (``True`` with nearest is an error, as in PyTorch): map
        corner centres onto corner centres instead of half-pixel centres.

    Returns:
      ``(N, H_out, W_out, C)`` in ``x``'s dtype.

    Residuals: none (the interpolation is static; the backward needs only the cotangent).

    Raises:
      ValueError: on a wrong rank, empty H or W, both or neither of size/scale_factor,
        non-positive sizes or scales, an empty result, an unknown mode, or align_corners
        with nearest.
      TypeError: on a non-floating ``x`` or malformed size/scale_factor/align_corners.

    >>> import jax.numpy as jnp
    >>> x = jnp.asarray([0.0, 1.0, 2.0]).reshape(1, 1, 3, 1)
    >>> upsample2d(x, scale_factor=(1, 2))[0, 0, :, 0].tolist()
    [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    >>> upsample2d(x, size=(1, 5), mode="bilinear", align_corners=True)[0, 0, :, 0].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    op = "upsample2d"
    x = as_float_array(op, "x", x)
    check_nhwc(op, "x", x)
    plan = _plan(op, x.shape[1:3], size, scale_factor, mode, align_corners)
    return _upsample2d(x, plan)


def _gather_axis(x, ax: _Axis, axis: int):
    """``w0 * x[i0] + w1 * x[i1]`` along ``axis``, in the accumulation dtype."""
    shape = [1] * x.ndim
    shape[axis] = len(ax.i0)
    y0 = jnp.take(x, np.asarray(ax.i0), axis=axis)
    if not any(ax.w1):  # nearest (or every weight on one cell): a pure gather
        return y0
    acc = acc_dtype(x.dtype)
    y1 = jnp.take(x, np.asarray(ax.i1), axis=axis).astype(acc)
    w0 = jnp.asarray(np.asarray(ax.w0).reshape(shape), acc)
    w1 = jnp.asarray(np.asarray(ax.w1).reshape(shape), acc)
    return (w0 * y0.astype(acc) + w1 * y1).astype(x.dtype)


def _matrix(ax: _Axis, dtype) -> jax.Array:
    """The ``(out, in)`` interpolation matrix: ``A[o, i0] += w0``, ``A[o, i1] += w1``."""
    a = np.zeros((len(ax.i0), ax.size_in))
    rows = np.arange(len(ax.i0))
    np.add.at(a, (rows, np.asarray(ax.i0)), np.asarray(ax.w0))
    np.add.at(a, (rows, np.asarray(ax.i1)), np.asarray(ax.w1))
    return jnp.asarray(a, dtype)


def _forward(x, plan):
    return _gather_axis(_gather_axis(x, plan[0], 1), plan[1], 2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _upsample2d(x, plan: tuple[_Axis, _Axis]):
    return _forward(x, plan)


def _upsample2d_fwd(x, plan):
    return _forward(x, plan), None


# _upsample2d_bwd :: (plan, residuals, ct_y) -> (ct_x,)
def _upsample2d_bwd(plan: tuple[_Axis, _Axis], res: None, ct_y):
    r"""VJP of upsample2d.

    Along one axis the forward is :math:`Y_o = w^0_o X_{i^0_o} + w^1_o X_{i^1_o}`
    (nearest: :math:`w^0 = 1, w^1 = 0`), i.e. :math:`Y = A X` with
    :math:`A_{o,i} = w^0_o [i = i^0_o] + w^1_o [i = i^1_o]` (``_matrix``); both axes give
    :math:`Y_{n,\cdot,\cdot,c} = A_H X_{n,\cdot,\cdot,c} A_W^\top`. With :math:`\bar Y` bound
    to ``ct_y``, the VJP is the scatter-add of each output cotangent onto its source cells
    with its interpolation weights:

    .. math::
        \frac{\partial L}{\partial X_{n,\cdot,\cdot,c}} = A_H^\top \bar Y_{n,\cdot,\cdot,c}\, A_W,
        \qquad
        \frac{\partial L}{\partial X_i} = \sum_{o:\, i^0_o = i} w^0_o \bar Y_o
          + \sum_{o:\, i^1_o = i} w^1_o \bar Y_o .

    The code: two matrix products, ``ct_y`` contracted with :math:`A_W` over W and then with
    :math:`A_H` over H, in the accumulation dtype.
    """
    del res
    acc = acc_dtype(ct_y.dtype)
    ct = jnp.einsum("nhoc,ow->nhwc", ct_y.astype(acc), _matrix(plan[1], acc), precision=_EXACT)
    ct = jnp.einsum("nowc,oh->nhwc", ct, _matrix(plan[0], acc), precision=_EXACT)
    return (ct.astype(ct_y.dtype),)


_upsample2d.defvjp(_upsample2d_fwd, _upsample2d_bwd)
