"""Pooling over NHWC feature maps, each a ``jax.custom_vjp`` with a hand-derived VJP.

Every pooled output cell reads one window of the (padded) input. Forward passes loop over the
``KH * KW`` window offsets with strided slices of the padded input; backward passes are the
transpose of those slices, a strided *pad* of each offset's cotangent, summed (or, for
non-overlapping windows, interleaved by a reshape). Both are plain JAX, so the VJPs are
differentiable again. Residuals: max pooling keeps a small-integer argmax per output cell;
average pooling keeps nothing (its VJP depends only on static shapes).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnjax.ops._util import (
    Padding2D,
    Pair,
    acc_dtype,
    check_float,
    check_rank,
    check_window_fits,
    out_size,
    padding_2d,
    pair,
)

__all__ = ["avg_pool2d", "global_avg_pool2d", "max_pool2d"]


class _Geom(NamedTuple):
    """Static, hashable window geometry of one pooling call (passed as a nondiff arg)."""

    window: Pair  # (KH, KW)
    stride: Pair  # (SH, SW)
    pads: Padding2D  # ((top, bottom), (left, right))
    in_hw: Pair  # (H, W) of the unpadded input
    out_hw: Pair  # (H_out, W_out)


def _geometry(op: str, x: Any, window: Any, stride: Any, padding: Any) -> _Geom:
    """Validate ``x`` and the static configuration at the public boundary; normalise them."""
    check_rank(op, "x", x, 4, "(N, H, W, C)")
    check_float(op, "x", x)
    window = pair(window, "window", op)
    stride = window if stride is None else pair(stride, "stride", op)
    in_hw = (int(jnp.shape(x)[1]), int(jnp.shape(x)[2]))
    pads = padding_2d(padding, op, in_hw=in_hw, window_hw=window, stride=stride)
    check_window_fits(op, in_hw, pads, window, "window")
    for axis, pad, k in zip("HW", pads, window, strict=True):
        if max(pad) >= k:
            raise ValueError(
                f"{op}: `padding` must be smaller than `window` on each side, so that no window "
                f"holds only padding; got padding {pad} for window {k} along {axis}"
            )
    out_hw = tuple(out_size(*a) for a in zip(in_hw, pads, window, stride, strict=True))
    return _Geom(window, stride, pads, in_hw, out_hw)


def _pad(x: jax.Array, pads: Padding2D, value: Any) -> jax.Array:
    """Pad H and W of an NHWC array with the constant ``value`` (no-op without padding)."""
    if pads == ((0, 0), (0, 0)):
        return x
    config = ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0))
    return lax.pad(x, jnp.asarray(value, x.dtype), config)


def _window_slices(xp: jax.Array, g: _Geom) -> Iterator[tuple[int, jax.Array]]:
    """Yield ``(k, x_k)`` for each window offset ``k = kh * KW + kw`` in row-major order.

    ``x_k[n, i, j, c] = xp[n, i * SH + kh, j * SW + kw, c]``: shape ``(N, H_out, W_out, C)``.
    """
    (kh_, kw_), (sh, sw), (ho, wo) = g.window, g.stride, g.out_hw
    n, _, _, c = xp.shape
    for kh in range(kh_):
        for kw in range(kw_):
            limit = (n, kh + (ho - 1) * sh + 1, kw + (wo - 1) * sw + 1, c)
            yield kh * kw_ + kw, lax.slice(xp, (0, kh, kw, 0), limit, (1, sh, sw, 1))


def _window_transpose(pieces: list[jax.Array], g: _Geom) -> jax.Array:
    """Transpose of :func:`_window_slices` followed by cropping the padding.

    ``pieces[k]`` (shape ``(N, H_out, W_out, C)``) is scattered back to the input positions
    that offset ``k`` read, overlapping contributions add, and cells in the padding are
    dropped. Returns shape ``(N, H, W, C)``.

    Each piece is placed by a strided ``lax.pad`` (interior padding ``stride - 1``, low edge
    padding ``kh - p_top``; negative edge padding crops) and the placed pieces are summed.
    """
    (kh_, kw_), (sh, sw), ((pt, _), (pl, _)) = g.window, g.stride, g.pads
    (h, w), (ho, wo) = g.in_hw, g.out_hw
    zero = jnp.zeros((), pieces[0].dtype)
    total = None
    for kh in range(kh_):
        for kw in range(kw_):
            config = (
                (0, 0, 0),
                (kh - pt, pt + h - (kh + (ho - 1) * sh + 1), sh - 1),
                (kw - pl, pl + w - (kw + (wo - 1) * sw + 1), sw - 1),
                (0, 0, 0),
            )
            placed = lax.pad(pieces[kh * kw_ + kw], zero, config)
            total = placed if total is None else total + placed
    return total


def _tiles(g: _Geom) -> bool:
    """True when the windows tile the input: stride == window and no padding."""
    return g.stride == g.window and g.pads == ((0, 0), (0, 0))


def _from_blocks(blocks: jax.Array, g: _Geom) -> jax.Array:
    """``(N, H_out, KH, W_out, KW, C)`` per-window cotangents to ``(N, H, W, C)``.

    For tiling windows this is the whole transpose of the window slices: a free reshape, then
    zero rows/columns for the ``H - H_out * KH`` trailing input rows no window read.
    """
    n, ho, kh, wo, kw, c = blocks.shape
    (h, w) = g.in_hw
    out = blocks.reshape(n, ho * kh, wo * kw, c)
    if (h, w) == (ho * kh, wo * kw):
        return out
    zero = jnp.zeros((), out.dtype)
    return lax.pad(out, zero, ((0, 0, 0), (0, h - ho * kh, 0), (0, w - wo * kw, 0), (0, 0, 0)))


# --------------------------------------------------------------------------------- max_pool2d


def max_pool2d(
    x: jax.Array, window: Any, *, stride: Any = None, padding: Any = "VALID"
) -> jax.Array:
    """2-D max pooling over NHWC input.

    Args:
      x: floating array of shape ``(N, H, W, C)``.
      window: ``KH`` = ``KW`` as an int, or a ``(KH, KW)`` pair.
      stride: an int or ``(SH, SW)`` pair; defaults to ``window``.
      padding: ``"VALID"``, ``"SAME"``, an int, an ``(h, w)`` pair or
        ``((top, bottom), (left, right))``. Padded cells hold ``-inf`` and are never selected.

    Returns:
      Array of shape ``(N, H_out, W_out, C)`` and ``x``'s dtype, with
      ``H_out = (H + p_top + p_bottom - KH) // SH + 1`` (likewise ``W_out``).

    Raises:
      ValueError: ``x`` not rank 4, non-positive window/stride, negative or unknown padding,
        padding not smaller than the window (a window of padding only), a window larger than
        the padded input.
      TypeError: non-floating ``x``, malformed window/stride/padding.

    Residuals: the argmax of each window (row-major offset ``kh * KW + kw`` of its *first*
    maximum), shape ``(N, H_out, W_out, C)``, int8 when ``KH * KW <= 127`` (else int16/int32).
    The gradient goes to that first maximum, as autodiff of ``lax.reduce_window`` does (to the
    first NaN when the window holds one: the output is then NaN, as ``reduce_window``'s is).

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> max_pool2d(x, 2)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> max_pool2d(x, 3, stride=2, padding="SAME").shape
    (1, 2, 2, 1)
    """
    g = _geometry("max_pool2d", x, window, stride, padding)
    return _max_pool2d_jit(jnp.asarray(x), g)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool2d(x, g):
    return _max_and_argmax(x, g)[0]


class _MaxPoolRes(NamedTuple):
    argmax: jax.Array  # int8/16/32, (N, H_out, W_out, C): offset of each window's first max


def _index_dtype(window: Pair) -> Any:
    size = window[0] * window[1]
    return jnp.int8 if size <= 127 else jnp.int16 if size <= 32767 else jnp.int32


# XLA:CPU fuses a concatenate of at most 8 operands into its consumer and materialises larger
# ones, so windows of up to 8 cells stack their offsets and reduce; larger ones run a chain.
_STACKED_MAX_WINDOW = 8


def _max_and_argmax(x, g: _Geom):
    """Window max and the offset of its first maximum (NaN counts as the largest value).

    Up to 8 cells: one variadic ``lax.reduce`` over the stacked offsets. Its outputs are
    materialised, so the backward pass reads the int8 argmax; an elementwise chain of
    ``maximum``/``where`` would instead be re-fused by XLA into the backward, which then keeps
    the pooled *input* alive to recompute the argmax (measured on the vgg_small training step:
    temp 245.5 -> 199.5 MiB, step time 0.96x). Larger windows run that chain (a stack of 9+
    slices would be materialised at 9+ times the output's size).
    """
    xp = _pad(x, g.pads, -jnp.inf)
    slices = [xk for _, xk in _window_slices(xp, g)]
    if len(slices) <= _STACKED_MAX_WINDOW:
        return _stacked_max_and_argmax(jnp.stack(slices, axis=-1))
    index_dtype = _index_dtype(g.window)
    best, index = slices[0], jnp.zeros(slices[0].shape, index_dtype)
    for k, xk in enumerate(slices[1:], start=1):
        take = (xk > best) | (jnp.isnan(xk) & ~jnp.isnan(best))
        index = jnp.where(take, jnp.asarray(k, index_dtype), index)
        best = jnp.where(take, xk, best)
    return best, index


def _first_max(a, b):
    """Reducer: the larger ``(value, index)`` pair, NaN above all, ties to the lower index.

    A total order's maximum, hence associative and commutative as ``lax.reduce`` requires.
    """
    (av, ai), (bv, bi) = a, b
    a_nan, b_nan = jnp.isnan(av), jnp.isnan(bv)
    same = (av == bv) | (a_nan & b_nan)
    take_b = (bv > av) | (b_nan & ~a_nan) | (same & (bi < ai))
    return jnp.where(take_b, bv, av), jnp.where(take_b, bi, ai)


@jax.custom_jvp
def _stacked_max_and_argmax(stacked: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Max and first-max offset over the last axis of ``stacked``: one variadic reduce."""
    axis = stacked.ndim - 1
    index_dtype = _index_dtype((1, stacked.shape[axis]))
    offsets = lax.broadcasted_iota(index_dtype, stacked.shape, axis)
    # (-inf, largest index) is the identity: every real pair beats it.
    init = (jnp.array(-jnp.inf, stacked.dtype), jnp.array(jnp.iinfo(index_dtype).max, index_dtype))
    return tuple(lax.reduce((stacked, offsets), init, _first_max, (axis,)))


@_stacked_max_and_argmax.defjvp
def _stacked_max_and_argmax_jvp(primals, tangents):
    r"""JVP (grad-of-grad differentiates the forward; ``lax.reduce`` with a custom reducer has
    no rule of its own): :math:`y = s_a` with the argmax :math:`a` locally constant, so
    :math:`\dot y = \dot s_a` and the integer argmax has a zero (``float0``) tangent."""
    (stacked,), (dot,) = primals, tangents
    y, argmax = _stacked_max_and_argmax(stacked)
    zero = jnp.zeros((), dot.dtype)
    dot_y = sum(jnp.where(argmax == k, dot[..., k], zero) for k in range(stacked.shape[-1]))
    return (y, argmax), (dot_y, np.zeros(argmax.shape, jax.dtypes.float0))


def _max_pool2d_fwd(x, g):
    y, argmax = _max_and_argmax(x, g)
    return y, _MaxPoolRes(argmax)


# _max_pool2d_bwd :: (residuals, ct_y) -> (ct_x,)
def _max_pool2d_bwd(g: _Geom, res: _MaxPoolRes, ct_y):
    r"""VJP of max pooling.

    .. math::
        y_{nijc} = \max_{k} \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c}, \qquad
        \frac{\partial L}{\partial \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c}}
        \mathrel{+}= \bar y_{nijc} \, [k = a_{nijc}]

    with :math:`\tilde x` the ``-inf``-padded ``x``, :math:`\bar y` bound to ``ct_y``,
    :math:`k = k_h K_W + k_w` a window offset and :math:`a` to ``res.argmax`` (the first
    maximum in row-major window order: the kink convention of JAX autodiff of
    ``lax.reduce_window``, pinned by a test). Overlapping windows add up. The code masks
    ``ct_y`` once per offset, ``where(argmax == k, ct_y, 0)``, scatters each mask back with the
    transpose of the forward's strided slice (a strided pad) and crops the padding. Linear
    in ``ct_y`` for a fixed argmax, so it differentiates again.
    """
    zero = jnp.zeros((), ct_y.dtype)
    kk = g.window[0] * g.window[1]
    pieces = [jnp.where(res.argmax == k, ct_y, zero) for k in range(kk)]
    return (_window_transpose(pieces, g),)


_max_pool2d.defvjp(_max_pool2d_fwd, _max_pool2d_bwd)
# One compiled program per geometry: eagerly, the KH*KW-offset loops would otherwise dispatch
# (and compile) every slice separately. Inside an outer jit this is inlined.
_max_pool2d_jit = jax.jit(_max_pool2d, static_argnums=1)


# --------------------------------------------------------------------------------- avg_pool2d


def avg_pool2d(
    x: jax.Array,
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
) -> jax.Array:
    """2-D average pooling over NHWC input.

    Args:
      x: floating array of shape ``(N, H, W, C)``.
      window: ``KH`` = ``KW`` as an int, or a ``(KH, KW)`` pair.
      stride: an int or ``(SH, SW)`` pair; defaults to ``window``.
      padding: ``"VALID"``, ``"SAME"``, an int, an ``(h, w)`` pair or
        ``((top, bottom), (left, right))``; padded cells hold zeros.
      count_include_pad: divide every window sum by ``KH * KW`` (True) or by the number of
        its non-padded cells (False, PyTorch's ``count_include_pad=False``).

    Returns:
      Array of shape ``(N, H_out, W_out, C)`` and ``x``'s dtype, with
      ``H_out = (H + p_top + p_bottom - KH) // SH + 1`` (likewise ``W_out``). Low-precision
      inputs (bfloat16, float16) are summed in float32.

    Raises:
      ValueError: as :func:`max_pool2d`.
      TypeError: as :func:`max_pool2d`, or a non-bool ``count_include_pad``.

    Residuals: none; the VJP needs only static shapes (the count map is built from them).

    >>> import jax.numpy as jnp
    >>> x = jnp.ones((1, 3, 3, 1))
    >>> avg_pool2d(x, 2, stride=2, padding=((0, 1), (0, 1)))[0, :, :, 0].tolist()
    [[1.0, 0.5], [0.5, 0.25]]
    >>> avg_pool2d(x, 2, stride=2, padding=((0, 1), (0, 1)),
    ...            count_include_pad=False)[0, :, :, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    g = _geometry("avg_pool2d", x, window, stride, padding)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(
            f"avg_pool2d: `count_include_pad` must be a bool, got {count_include_pad!r}"
        )
    return _avg_pool2d_jit(jnp.asarray(x), g, bool(count_include_pad))


def _inverse_count(g: _Geom, count_include_pad: bool, dtype: Any) -> Any:
    """``1 / count`` per output cell: a scalar, or a ``(1, H_out, W_out, 1)`` constant."""
    if count_include_pad or g.pads == ((0, 0), (0, 0)):
        return 1.0 / (g.window[0] * g.window[1])
    counts = []
    for size, (lo, _), k, s, n_out in zip(
        g.in_hw, g.pads, g.window, g.stride, g.out_hw, strict=True
    ):
        start = np.arange(n_out) * s - lo  # first input row/column of each window
        counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    inverse = 1.0 / np.outer(counts[0], counts[1])
    return jnp.asarray(inverse[None, :, :, None], dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _avg_pool2d(x, g, count_include_pad):
    return _window_mean(x, g, count_include_pad)


def _window_mean(x, g: _Geom, count_include_pad: bool):
    """Window sums (in float32 for low precision) times ``1 / count``: strided slices added up,
    or, when the windows tile the input, one sum over the window axes of a reshaped view."""
    acc = acc_dtype(x.dtype)
    if _tiles(g):  # one reduction over the (KH, KW) axes of a reshaped view
        (kh, kw), (ho, wo) = g.window, g.out_hw
        n, c = x.shape[0], x.shape[3]
        blocks = x[:, : ho * kh, : wo * kw, :].astype(acc).reshape(n, ho, kh, wo, kw, c)
        total = jnp.sum(blocks, axis=(2, 4))
        return (total * _inverse_count(g, count_include_pad, acc)).astype(x.dtype)
    xp = _pad(x.astype(acc), g.pads, 0)
    total = None
    for _, xk in _window_slices(xp, g):
        total = xk if total is None else total + xk
    return (total * _inverse_count(g, count_include_pad, acc)).astype(x.dtype)


def _avg_pool2d_fwd(x, g, count_include_pad):
    return _window_mean(x, g, count_include_pad), None  # residuals: none


# _avg_pool2d_bwd :: (residuals, ct_y) -> (ct_x,)
def _avg_pool2d_bwd(g: _Geom, count_include_pad: bool, res: None, ct_y):
    r"""VJP of average pooling.

    .. math::
        y_{nijc} = \frac{1}{m_{ij}} \sum_{k} \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c},
        \qquad
        \frac{\partial L}{\partial \tilde x_{n,\, i s_h + k_h,\, j s_w + k_w,\, c}}
        \mathrel{+}= \frac{\bar y_{nijc}}{m_{ij}}

    with :math:`\tilde x` the zero-padded ``x``, :math:`\bar y` bound to ``ct_y`` and
    :math:`m_{ij}` the window's divisor (``KH * KW``, or its count of non-padded cells when
    ``count_include_pad`` is False). The code scales ``ct_y`` by ``1 / m`` (in float32 for
    low precision), spreads it uniformly over each window with the transpose of the
    forward's window sum, and crops the padding; when the windows tile the input this is a
    broadcast to ``(N, H_out, KH, W_out, KW, C)`` and a reshape.
    """
    del res
    acc = acc_dtype(ct_y.dtype)
    share = (ct_y.astype(acc) * _inverse_count(g, count_include_pad, acc)).astype(ct_y.dtype)
    if _tiles(g):  # a broadcast over each window and a reshape: no per-offset passes
        (kh, kw), (n, ho, wo, c) = g.window, share.shape
        blocks = jnp.broadcast_to(share.reshape(n, ho, 1, wo, 1, c), (n, ho, kh, wo, kw, c))
        return (_from_blocks(blocks, g),)
    return (_window_transpose([share] * (g.window[0] * g.window[1]), g),)


_avg_pool2d.defvjp(_avg_pool2d_fwd, _avg_pool2d_bwd)
_avg_pool2d_jit = jax.jit(_avg_pool2d, static_argnums=(1, 2))


# -------------------------------------------------------------------------- global_avg_pool2d


def global_avg_pool2d(x: jax.Array) -> jax.Array:
    """Mean over the spatial axes: ``(N, H, W, C) -> (N, C)``.

    Args:
      x: floating array of shape ``(N, H, W, C)``.

    Returns:
      Array of shape ``(N, C)`` and ``x``'s dtype (bfloat16/float16 averaged in float32).

    Raises:
      ValueError: ``x`` not rank 4.
      TypeError: non-floating ``x``.

    Residuals: none (only the static ``(H, W)``).

    >>> import jax.numpy as jnp
    >>> global_avg_pool2d(jnp.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[3.0, 4.0]]
    """
    check_rank("global_avg_pool2d", "x", x, 4, "(N, H, W, C)")
    check_float("global_avg_pool2d", "x", x)
    x = jnp.asarray(x)
    return _global_avg_pool2d(x, (x.shape[1], x.shape[2]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _global_avg_pool2d(x, hw):
    return _spatial_mean(x, hw)


def _spatial_mean(x, hw: Pair):
    acc = acc_dtype(x.dtype)
    return (jnp.sum(x.astype(acc), axis=(1, 2)) / (hw[0] * hw[1])).astype(x.dtype)


def _global_avg_pool2d_fwd(x, hw):
    return _spatial_mean(x, hw), None  # residuals: none


# _global_avg_pool2d_bwd :: (residuals, ct_y) -> (ct_x,)
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
