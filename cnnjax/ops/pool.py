"""Pooling over NHWC feature maps, each a ``jax.custom_vjp`` with a hand-derived VJP.

Every pooled output cell reads one window of the (padded) input, described by a static
:class:`~cnnjax.ops.geometry.WindowGeometry`. Forward passes loop over the window offsets with
strided slices of the padded input; backward passes are the transpose of those slices, a
strided *pad* of each offset's cotangent, summed (:mod:`cnnjax.ops._windows`). Both are plain
JAX, so the VJPs differentiate again. Residuals: max pooling keeps a small-integer argmax per
output cell (:mod:`cnnjax.ops._pool_argmax` computes it); average pooling keeps nothing.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.ops._arraylike import as_array
from cnnjax.ops._pool_argmax import max_and_argmax
from cnnjax.ops._util import acc_dtype, check_float, check_rank
from cnnjax.ops._windows import from_blocks, pad, tiles, window_slices, window_transpose
from cnnjax.ops.geometry import Pair, WindowGeometry, window_geometry

__all__ = ["avg_pool2d", "global_avg_pool2d", "max_pool2d"]


def _pool_geometry(op, x, window, stride, padding, dilation, ceil_mode) -> WindowGeometry:
    """Validate ``x`` and the static configuration at the public boundary; normalise them."""
    check_rank(op, "x", x, 4, "(N, H, W, C)")
    check_float(op, "x", x)
    if stride is None:
        stride = window
    geo = window_geometry(
        op,
        jnp.shape(x)[1:3],
        window,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
    )
    for axis, pads, k in zip("HW", geo.padding, geo.effective, strict=True):
        if max(pads) >= k:
            raise ValueError(
                f"{op}: `padding` must be smaller than `window` (dilated: d*(k-1)+1) on each "
                f"side, so that no window holds only padding; got padding {pads} for window {k} "
                f"along {axis}"
            )
    return geo


# --------------------------------------------------------------------------------- max_pool2d


def max_pool2d(
    x: jax.typing.ArrayLike,
    window: int | Pair,
    *,
    stride: int | Pair | None = None,
    padding: Any = "VALID",
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
) -> jax.Array:
    """2-D max pooling over NHWC input.

    Args:
      x: floating array of shape ``(N, H, W, C)``.
      window: ``KH`` = ``KW`` as an int, or a ``(KH, KW)`` pair.
      stride: an int or ``(SH, SW)`` pair; defaults to ``window``.
      padding: ``"VALID"``, ``"SAME"``, an int, an ``(h, w)`` pair or
        ``((top, bottom), (left, right))``. Padded cells are never selected.
      dilation: an int or ``(DH, DW)`` pair: the window reads every ``d``-th cell.
      ceil_mode: round ``H_out`` up (PyTorch): a last, partial window is kept when it starts
        inside the input or the top/left padding.

    Returns:
      Array of shape ``(N, H_out, W_out, C)`` and ``x``'s dtype, with
      ``H_out = (H + p_top + p_bottom - DH*(KH-1) - 1) // SH + 1`` (likewise ``W_out``;
      ``ceil_mode`` rounds the division up, less one if that window would start past
      ``H + p_top``).

    Raises:
      ValueError: ``x`` not rank 4, non-positive window/stride/dilation, negative or unknown
        padding, padding not smaller than the dilated window, a window larger than the
        padded input.
      TypeError: non-floating ``x``, malformed window/stride/padding, non-bool ``ceil_mode``.

    Residuals: the argmax of each window (row-major offset ``kh * KW + kw`` of its *first*
    maximum), shape ``(N, H_out, W_out, C)``, int8 when ``KH * KW <= 127`` (else int16/int32).
    The gradient goes to that first maximum, as autodiff of ``lax.reduce_window`` does; to
    the first NaN when the window holds one (the output is then NaN); to the first input
    cell when all of a window's input cells are -inf.

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> max_pool2d(x, 2)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> max_pool2d(x, 3, stride=2, padding="SAME").shape
    (1, 2, 2, 1)
    >>> max_pool2d(x[:, :3, :3], 2, ceil_mode=True)[0, :, :, 0].tolist()
    [[5.0, 6.0], [9.0, 10.0]]
    """
    x = as_array("max_pool2d", "x", x)
    geo = _pool_geometry("max_pool2d", x, window, stride, padding, dilation, ceil_mode)
    return _max_pool2d_jit(jnp.asarray(x), geo)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool2d(x, geo: WindowGeometry):
    return max_and_argmax(x, geo)[0]


class _MaxPool2dRes(NamedTuple):
    argmax: jax.Array  # int8/16/32, (N, H_out, W_out, C): offset of each window's first max


def _max_pool2d_fwd(x, geo):
    y, argmax = max_and_argmax(x, geo)
    return y, _MaxPool2dRes(argmax)


# _max_pool2d_bwd :: (geo, residuals, ct_y) -> (ct_x,)
def _max_pool2d_bwd(geo: WindowGeometry, res: _MaxPool2dRes, ct_y):
    r"""VJP of max pooling.

    .. math::
        y_{nijc} = \max_{k} \tilde x_{n,\, i s_h + k_h d_h,\, j s_w + k_w d_w,\, c}, \qquad
        \frac{\partial L}{\partial \tilde x_{n,\, i s_h + k_h d_h,\, j s_w + k_w d_w,\, c}}
        \mathrel{+}= \bar y_{nijc} \, [k = a_{nijc}]

    with :math:`\tilde x` the ``-inf``-padded ``x``, :math:`\bar y` bound to ``ct_y``,
    :math:`k = k_h K_W + k_w` a window offset and :math:`a` to ``res.argmax`` (the first
    maximum in row-major window order, input cells before padding, NaN first: the
    convention pinned by the tests). Overlapping windows add up. The code masks ``ct_y``
    once per offset, ``where(argmax == k, ct_y, 0)``, scatters each mask back with the
    transpose of the forward's strided slice (a strided pad) and crops the padding. Linear
    in ``ct_y`` for a fixed argmax, so it differentiates again.
    """
    zero = jnp.zeros((), ct_y.dtype)
    cells = geo.window[0] * geo.window[1]
    pieces = [jnp.where(res.argmax == k, ct_y, zero) for k in range(cells)]
    return (window_transpose(pieces, geo),)


_max_pool2d.defvjp(_max_pool2d_fwd, _max_pool2d_bwd)
# One compiled program per geometry: eagerly, the KH*KW-offset loops would otherwise dispatch
# (and compile) every slice separately. Inside an outer jit this is inlined.
_max_pool2d_jit = jax.jit(_max_pool2d, static_argnums=1)


# --------------------------------------------------------------------------------- avg_pool2d


def avg_pool2d(
    x: jax.typing.ArrayLike,
    window: int | Pair,
    *,
    stride: int | Pair | None = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
    ceil_mode: bool = False,
    divisor_override: int | None = None,
) -> jax.Array:
    """2-D average pooling over NHWC input.

    Args:
      x: floating array of shape ``(N, H, W, C)``.
      window: ``KH`` = ``KW`` as an int, or a ``(KH, KW)`` pair.
      stride: an int or ``(SH, SW)`` pair; defaults to ``window``.
      padding: ``"VALID"``, ``"SAME"``, an int, an ``(h, w)`` pair or
        ``((top, bottom), (left, right))``; padded cells hold zeros.
      count_include_pad: divide each window sum by its cells inside input + padding (True;
        ``KH * KW`` unless a ``ceil_mode`` window hangs past the bottom/right padding) or by
        its input cells only (False), as PyTorch does.
      ceil_mode: round ``H_out`` up, as :func:`max_pool2d`.
      divisor_override: a positive int dividing every window sum instead.

    Returns:
      Array of shape ``(N, H_out, W_out, C)`` and ``x``'s dtype, with
      ``H_out = (H + p_top + p_bottom - KH) // SH + 1`` (likewise ``W_out``; ``ceil_mode`` as
      in :func:`max_pool2d`). Low-precision inputs (bfloat16, float16) are summed in float32.

    Raises:
      ValueError: as :func:`max_pool2d`, or a non-positive ``divisor_override``.
      TypeError: as :func:`max_pool2d`, a non-bool ``count_include_pad``, or a non-int
        ``divisor_override``.

    Residuals: none; the VJP needs only static shapes (the divisor map is built from them).

    >>> import jax.numpy as jnp
    >>> x = jnp.ones((1, 3, 3, 1))
    >>> avg_pool2d(x, 2, stride=2, padding=((0, 1), (0, 1)))[0, :, :, 0].tolist()
    [[1.0, 0.5], [0.5, 0.25]]
    >>> avg_pool2d(x, 2, stride=2, padding=((0, 1), (0, 1)),
    ...            count_include_pad=False)[0, :, :, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    >>> avg_pool2d(x, 2, ceil_mode=True)[0, :, :, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    x = as_array("avg_pool2d", "x", x)
    geo = _pool_geometry("avg_pool2d", x, window, stride, padding, 1, ceil_mode)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(
            f"avg_pool2d: `count_include_pad` must be a bool, got {count_include_pad!r}"
        )
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, np.integer)) or isinstance(
            divisor_override, (bool, np.bool_)
        ):
            raise TypeError(
                f"avg_pool2d: `divisor_override` must be None or an int, got {divisor_override!r}"
            )
        if divisor_override < 1:
            raise ValueError(f"avg_pool2d: `divisor_override` must be >= 1, got {divisor_override}")
        divisor_override = int(divisor_override)
    divisor = _divisors(geo, bool(count_include_pad), divisor_override)
    return _avg_pool2d_jit(jnp.asarray(x), geo, divisor)


def _divisors(geo: WindowGeometry, count_include_pad: bool, override: int | None):
    """Each window's divisor: an int when all agree, else a tuple of ``H_out`` rows of ints.

    Per axis, a window starting at padded row ``i s`` counts ``min(i s + K, p_top + H +
    p_bottom) - i s`` rows (``count_include_pad``: the overhang does not count) or
    ``min(i s - p_top + K, H) - max(i s - p_top, 0)`` rows (input rows only).
    """
    if override is not None:
        return override
    if geo.unpadded or (count_include_pad and geo.overhang == (0, 0)):
        return geo.window[0] * geo.window[1]
    counts = []
    for size, (top, bottom), k, s, n_out in zip(
        geo.in_hw, geo.padding, geo.window, geo.stride, geo.out_hw, strict=True
    ):
        start = np.arange(n_out) * s
        if count_include_pad:
            counts.append(np.minimum(start + k, top + size + bottom) - start)
        else:
            counts.append(np.minimum(start - top + k, size) - np.maximum(start - top, 0))
    return tuple(tuple(int(v) for v in row) for row in np.outer(counts[0], counts[1]))


def _inverse(divisor, dtype: Any) -> Any:
    """``1 / divisor``: a scalar, or a ``(1, H_out, W_out, 1)`` constant."""
    if isinstance(divisor, int):
        return 1.0 / divisor
    return jnp.asarray(1.0 / np.asarray(divisor, np.float64)[None, :, :, None], dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _avg_pool2d(x, geo: WindowGeometry, divisor):
    return _window_mean(x, geo, divisor)


def _window_mean(x, geo: WindowGeometry, divisor):
    """Window sums (in float32 for low precision) times ``1 / divisor``: strided slices added
    up, or, when the windows tile the input, one sum over the window axes of a reshaped view."""
    acc = acc_dtype(x.dtype)
    if tiles(geo):
        (kh, kw), (ho, wo) = geo.window, geo.out_hw
        n, c = x.shape[0], x.shape[3]
        blocks = x[:, : ho * kh, : wo * kw, :].astype(acc).reshape(n, ho, kh, wo, kw, c)
        total = jnp.sum(blocks, axis=(2, 4))
    else:
        total = None
        for _, xk in window_slices(pad(x.astype(acc), geo.pads, 0), geo):
            total = xk if total is None else total + xk
    return (total * _inverse(divisor, acc)).astype(x.dtype)


def _avg_pool2d_fwd(x, geo, divisor):
    return _window_mean(x, geo, divisor), None  # residuals: none


# _avg_pool2d_bwd :: (geo, divisor, residuals, ct_y) -> (ct_x,)
def _avg_pool2d_bwd(geo: WindowGeometry, divisor, res: None, ct_y):
    r"""VJP of average pooling.

    .. math::
        y_{nijc} = \frac{1}{m_{ij}} \sum_{k} \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c},
        \qquad
        \frac{\partial L}{\partial \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c}}
        \mathrel{+}= \frac{\bar y_{nijc}}{m_{ij}}

    with :math:`\tilde x` the zero-padded ``x``, :math:`\bar y` bound to ``ct_y`` and
    :math:`m_{ij}` to ``divisor`` (static: ``KH * KW``, the window's counted cells, or the
    override). The code scales ``ct_y`` by ``1 / m`` (in float32 for low precision), spreads
    it uniformly over each window with the transpose of the forward's window sum, and crops
    the padding; when the windows tile the input this is a broadcast to
    ``(N, H_out, KH, W_out, KW, C)`` and a reshape.
    """
    del res
    acc = acc_dtype(ct_y.dtype)
    share = (ct_y.astype(acc) * _inverse(divisor, acc)).astype(ct_y.dtype)
    if tiles(geo):
        (kh, kw), (n, ho, wo, c) = geo.window, share.shape
        blocks = jnp.broadcast_to(share.reshape(n, ho, 1, wo, 1, c), (n, ho, kh, wo, kw, c))
        return (from_blocks(blocks, geo),)
    return (window_transpose([share] * (geo.window[0] * geo.window[1]), geo),)


_avg_pool2d.defvjp(_avg_pool2d_fwd, _avg_pool2d_bwd)
_avg_pool2d_jit = jax.jit(_avg_pool2d, static_argnums=(1, 2))


# -------------------------------------------------------------------------- global_avg_pool2d


def global_avg_pool2d(x: jax.typing.ArrayLike) -> jax.Array:
    """Mean over the spatial axes: ``(N, H, W, C) -> (N, C)``.

    Args:
      x: floating array of shape ``(N, H, W, C)`` with ``H * W >= 1``.

    Returns:
      Array of shape ``(N, C)`` and ``x``'s dtype (bfloat16/float16 averaged in float32).

    Raises:
      ValueError: ``x`` not rank 4, or no spatial cell (``H * W == 0``: the mean is undefined).
      TypeError: non-floating ``x``.

    Residuals: none (only the static ``(H, W)``).

    >>> import jax.numpy as jnp
    >>> global_avg_pool2d(jnp.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[3.0, 4.0]]
    """
    x = as_array("global_avg_pool2d", "x", x)
    check_rank("global_avg_pool2d", "x", x, 4, "(N, H, W, C)")
    check_float("global_avg_pool2d", "x", x)
    x = jnp.asarray(x)
    if x.shape[1] * x.shape[2] == 0:
        raise ValueError(
            f"global_avg_pool2d: `x` must have H, W >= 1 (a mean over no cells is undefined), "
            f"got shape {x.shape}"
        )
    return _global_avg_pool2d(x, (x.shape[1], x.shape[2]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _global_avg_pool2d(x, hw: Pair):
    return _spatial_mean(x, hw)


def _spatial_mean(x, hw: Pair):
    acc = acc_dtype(x.dtype)
    return (jnp.sum(x.astype(acc), axis=(1, 2)) / (hw[0] * hw[1])).astype(x.dtype)


def _global_avg_pool2d_fwd(x, hw):
    return _spatial_mean(x, hw), None  # residuals: none


# _global_avg_pool2d_bwd :: (hw, residuals, ct_y) -> (ct_x,)
def _global_avg_pool2d_bwd(hw: Pair, res: None, ct_y):
    r"""VJP of the global average.

    .. math::
        y_{nc} = \frac{1}{HW} \sum_{h,w} x_{nhwc}, \qquad
        \frac{\partial L}{\partial x_{nhwc}} = \frac{\bar y_{nc}}{HW}

    with :math:`\bar y` bound to ``ct_y`` and :math:`(H, W)` to ``hw``. The code divides
    ``ct_y`` by ``H * W`` (in float32 for low precision) and broadcasts it over H and W.
    """
    del res
    h, w = hw
    n, c = ct_y.shape
    share = (ct_y.astype(acc_dtype(ct_y.dtype)) / (h * w)).astype(ct_y.dtype)
    return (jnp.broadcast_to(share.reshape(n, 1, 1, c), (n, h, w, c)),)


_global_avg_pool2d.defvjp(_global_avg_pool2d_fwd, _global_avg_pool2d_bwd)
