r"""Spatial padding of NHWC arrays (``F.pad`` on H and W) with a hand-derived VJP.

Four modes, as PyTorch's: ``constant`` (a fill value), ``reflect`` (mirror without repeating
the edge: ``d c b | a b c d | c b a``), ``replicate`` (repeat the edge: ``a a | a b c d | d d``)
and ``circular`` (wrap around: ``c d | a b c d | a b``). Each mode pads H and W; every mode
is a linear map of the input (plus the constant fill), so the VJP is its transpose: the two
axes' maps act on different axes and commute, so their transposes apply in either order.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._args2d import Padding2D, as_float_array, check_nhwc, explicit_padding

__all__ = ["pad2d"]

MODES = ("constant", "reflect", "replicate", "circular")


def _check_sizes(op, mode, x_shape, pads: Padding2D) -> None:
    """PyTorch's limits: reflect needs pad < dim, circular pad <= dim; the result non-empty."""
    for axis, size, (lo, hi) in zip("HW", x_shape[1:3], pads, strict=True):
        if size + lo + hi < 1:
            raise ValueError(
                f"{op}: `padding` {(lo, hi)} crops all of {axis} = {size}; the padded size "
                f"must be >= 1, got {size + lo + hi}"
            )
        if mode == "reflect" and max(lo, hi) >= size:
            raise ValueError(
                f"{op}: reflect `padding` must be < the input size in each dimension, got "
                f"{(lo, hi)} for {axis} = {size}"
            )
        if mode == "circular" and max(lo, hi) > size:
            raise ValueError(
                f"{op}: circular `padding` must be <= the input size in each dimension, got "
                f"{(lo, hi)} for {axis} = {size}"
            )


def pad2d(
    x: jax.typing.ArrayLike,
    padding: Any,
    *,
    mode: str = "constant",
    value: float = 0.0,
) -> jax.Array:
    """Pad the H and W axes of ``x`` (``F.pad(x_nchw, (l, r, t, b), mode, value)``).

    Args:
      x: input, shape ``(N, H, W, C)``, floating, ``H, W >= 1``.
      padding: an int (all four sides), an ``(h, w)`` pair (symmetric) or
        ``((top, bottom), (left, right))``. Negative entries crop, as ``F.pad`` allows, but
        only in ``"constant"`` mode; the other modes need them ``>= 0``.
      mode: ``"constant"``, ``"reflect"`` (each pad ``< `` the size of its axis),
        ``"replicate"`` or ``"circular"`` (each pad ``<=`` the size of its axis).
      value: the fill of ``"constant"`` mode, a Python number. It is static configuration,
        not differentiable (no cotangent is returned for it).

    Returns:
      ``(N, H + top + bottom, W + left + right, C)`` in ``x``'s dtype.

    Residuals: none (the backward needs only the static padding and the cotangent).

    Raises:
      ValueError: on a wrong rank, an empty H or W, an unknown mode, negative padding outside
        constant mode, a pad too wide for reflect/circular, or a result with no rows/columns.
      TypeError: on a non-floating ``x``, a malformed ``padding`` or a non-number ``value``.

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(4.0).reshape(1, 1, 4, 1)
    >>> pad2d(x, ((0, 0), (2, 2)), mode="reflect")[0, 0, :, 0].tolist()
    [2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    >>> pad2d(x, ((0, 0), (1, 2)), mode="circular")[0, 0, :, 0].tolist()
    [3.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0]
    """
    op = "pad2d"
    x = as_float_array(op, "x", x)
    check_nhwc(op, "x", x)
    if mode not in MODES:
        raise ValueError(f"{op}: `mode` must be one of {MODES}, got {mode!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: `value` must be a Python int or float, got {value!r}")
    pads = explicit_padding(padding, op, allow_negative=mode == "constant")
    _check_sizes(op, mode, x.shape, pads)
    return _pad2d(x, pads, mode, float(value))


# -------------------------------------------------------------------- one axis, one mode each


def _axis_parts(x, axis: int, lo: int, hi: int, mode: str) -> list:
    """The blocks that, concatenated along ``axis``, pad ``x`` by ``(lo, hi)`` in ``mode``."""
    n = x.shape[axis]

    def take(start, stop):
        return lax.slice_in_dim(x, start, stop, axis=axis)

    if mode == "reflect":  # rows lo..1 before, n-2..n-1-hi after
        return [jnp.flip(take(1, lo + 1), axis), x, jnp.flip(take(n - 1 - hi, n - 1), axis)]
    if mode == "replicate":
        edge_lo, edge_hi = take(0, 1), take(n - 1, n)
        return [jnp.repeat(edge_lo, lo, axis), x, jnp.repeat(edge_hi, hi, axis)]
    return [take(n - lo, n), x, take(0, hi)]  # circular: the last lo rows before, the first hi


def _add_rows(acc, part, axis: int, start: int):
    """``acc`` with ``part`` added onto its rows ``[start, start + len)`` along ``axis``."""
    rows = lax.slice_in_dim(acc, start, start + part.shape[axis], axis=axis)
    return lax.dynamic_update_slice_in_dim(acc, rows + part, start, axis)


def _add_borders(body, head, tail, axis: int, mode: str):
    """The transpose of :func:`_axis_parts`: ``head``/``tail`` cotangents onto their sources."""
    n, lo, hi = body.shape[axis], head.shape[axis], tail.shape[axis]
    if mode == "reflect":  # head row j came from row lo - j; tail row j from n - 2 - j
        pieces = ((jnp.flip(head, axis), 1), (jnp.flip(tail, axis), n - 1 - hi))
    elif mode == "replicate":  # every head row came from row 0, every tail row from n - 1
        head = jnp.sum(head, axis=axis, keepdims=True)
        pieces = ((head, 0), (jnp.sum(tail, axis=axis, keepdims=True), n - 1))
    else:  # circular
        pieces = ((head, n - lo), (tail, 0))
    for (part, start), width in zip(pieces, (lo, hi), strict=True):
        if width:
            body = _add_rows(body, part, axis, start)
    return body


def _fold_axis(ct, axis: int, lo: int, hi: int, mode: str):
    """The transpose of padding along ``axis`` by ``(lo, hi)``: the borders folded back."""
    n = ct.shape[axis] - lo - hi

    def take(start, stop):
        return lax.slice_in_dim(ct, start, stop, axis=axis)

    return _add_borders(take(lo, lo + n), take(0, lo), take(lo + n, lo + n + hi), axis, mode)


# ----------------------------------------------------------------------------------- the op


def _forward(x, pads: Padding2D, mode: str, value: float):
    if mode == "constant":
        cfg = [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)]
        return lax.pad(x, jnp.asarray(value, x.dtype), cfg)
    # Each H block padded along W, then stacked: one pass, no H-padded intermediate.
    rows = _axis_parts(x, 1, *pads[0], mode)
    return jnp.concatenate([jnp.concatenate(_axis_parts(r, 2, *pads[1], mode), 2) for r in rows], 1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _pad2d(x, pads: Padding2D, mode: str, value: float):
    return _forward(x, pads, mode, value)


def _pad2d_fwd(x, pads, mode, value):
    return _forward(x, pads, mode, value), None


# _pad2d_bwd :: (pads, mode, value, residuals, ct_y) -> (ct_x,)
def _pad2d_bwd(pads: Padding2D, mode: str, value: float, res: None, ct_y):
    r"""VJP of pad2d.

    Along one axis of length :math:`n` with pads :math:`(l, h)`, the output is
    :math:`Y_j = X_{\sigma(j)}` for an index map :math:`\sigma` (or the fill ``value``, which
    has no gradient), so with :math:`\bar Y` bound to ``ct_y``

    .. math::
        \frac{\partial L}{\partial X_i} = \sum_{j:\ \sigma(j) = i} \bar Y_j,
        \qquad
        \sigma(j) = \begin{cases}
          j - l & \text{constant (the body; pads are the fill, negative pads crop)} \\
          |j - l| \text{ reflected at } 0 \text{ and } n-1 & \text{reflect} \\
          \min(\max(j - l, 0), n - 1) & \text{replicate} \\
          (j - l) \bmod n & \text{circular}
        \end{cases}

    The body :math:`j = l + i` gives :math:`\bar Y_{l+i}`; the borders fold back: reflect adds
    the head flipped onto rows :math:`1..l` and the tail flipped onto rows
    :math:`n-1-h..n-2`; replicate adds the summed head onto row 0 and the summed tail onto row
    :math:`n-1`; circular adds the head onto the last :math:`l` rows and the tail onto the
    first :math:`h`. The two axes are independent, commuting maps, so the VJP applies the H
    transpose and the W transpose in either order.

    The code: constant mode is ``lax.pad`` with the pads negated (a crop, or zero rows where
    the forward cropped); the other modes slice ``ct_y`` into the body and its border strips,
    applies the H transpose to the left, middle and right column strips (the middle one is
    the body with its top and bottom strips added on), then adds the folded left and right
    strips onto the body's columns: each addition updates rows of the body in place.
    """
    del value, res  # the fill is static; no residuals
    if mode == "constant":
        (t, b), (l_, r) = pads
        cfg = [(0, 0, 0), (-t, -b, 0), (-l_, -r, 0), (0, 0, 0)]
        return (lax.pad(ct_y, jnp.zeros((), ct_y.dtype), cfg),)
    (t, b), (l_, r) = pads
    w = ct_y.shape[2] - l_ - r
    # Only the border strips are folded apart; they are added onto the body in place.
    cols = [lax.slice_in_dim(ct_y, a, a + k, axis=2) for a, k in ((0, l_), (l_ + w, r))]
    left, right = (_fold_axis(c, 1, t, b, mode) for c in cols)
    mid = lax.slice_in_dim(ct_y, l_, l_ + w, axis=2)
    ct_x = _fold_axis(mid, 1, t, b, mode)
    return (_add_borders(ct_x, left, right, 2, mode),)


_pad2d.defvjp(_pad2d_fwd, _pad2d_bwd)
