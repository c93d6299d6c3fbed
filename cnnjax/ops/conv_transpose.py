r"""Transposed 2-D convolution (NHWC, HWIO kernel of the conv it transposes), hand VJP.

``conv_transpose2d(x, w, ...)`` is the input gradient of ``conv2d(z, w, ...)`` with the same
stride, padding, dilation and groups: ``w`` is that conv's ``(KH, KW, C_out/groups, C_in)``
kernel, mapping ``C_out`` channels of ``z`` to the ``C_in`` channels of ``x``. Its forward is
therefore :func:`cnnjax.ops.conv.conv2d_grad_input`, and its backward is made of the conv's
forward (∂L/∂X) and weight gradient (∂L/∂W), with the roles of input and cotangent swapped.

Notation (one spatial axis; H and W are independent and identical): input length ``H``,
kernel ``K``, stride ``s``, dilation ``d``, ``k = d (K - 1) + 1``, crop ``(p_t, p_b)``,
``output_padding`` ``q``: ``H_out = (H - 1) s - p_t - p_b + k + q``. The ``q`` extra rows first
give back bottom rows the crop took (they hold contributions); only ``max(q - p_b, 0)`` rows
lie past the full output, where no input reaches: they are zero. So the conv this transposes
has padding ``(p_t, max(p_b - q, 0))`` on the ``H_out - max(q - p_b, 0)`` reached rows.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._args2d import check_nhwc
from cnnjax.ops._arraylike import as_float_array
from cnnjax.ops._util import acc_dtype, check_same_dtype
from cnnjax.ops.conv import conv2d_grad_input, conv2d_grad_weight
from cnnjax.ops.geometry import Padding2D, Pair, explicit_padding, is_int
from cnnjax.ops.geometry import pair as int_pair

__all__ = ["conv_transpose2d"]


class _Geometry(NamedTuple):
    """Static configuration, normalised: hashable for ``nondiff_argnums``."""

    stride: Pair
    padding: Padding2D  # crop of the full output, ((top, bottom), (left, right))
    output_padding: Pair
    dilation: Pair
    groups: int


def _same(kernel_hw, stride, dilation):
    """``"SAME"``: H_out = H * s. Crop k - s (floor half on top), or add s - k zero rows."""
    pads, extra = [], []
    for kk, s, d in zip(kernel_hw, stride, dilation, strict=True):
        k = d * (kk - 1) + 1
        total = max(k - s, 0)
        pads.append((total // 2, total - total // 2))
        extra.append(max(s - k, 0))
    return tuple(pads), tuple(extra)


def _geometry(op, kernel_hw, stride, padding, output_padding, dilation, groups) -> _Geometry:
    stride = int_pair(stride, "stride", op, minimum=1)
    dilation = int_pair(dilation, "dilation", op, minimum=1)
    out_pad = int_pair(output_padding, "output_padding", op, minimum=0)
    if not is_int(groups):
        raise TypeError(f"{op}: `groups` must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{op}: `groups` must be >= 1, got {groups}")
    for q, s, d in zip(out_pad, stride, dilation, strict=True):
        if q >= max(s, d):
            raise ValueError(
                f"{op}: `output_padding` must be < max(stride, dilation) in each dimension, "
                f"got {output_padding!r} with stride {stride} and dilation {dilation}"
            )
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        if padding.upper() == "VALID":
            pads = ((0, 0), (0, 0))
        elif out_pad != (0, 0):
            raise ValueError(
                f"{op}: padding='SAME' fixes H_out = H * stride, so "
                f"`output_padding` must be 0, got {output_padding!r}"
            )
        else:
            pads, out_pad = _same(kernel_hw, stride, dilation)
    elif isinstance(padding, str):
        raise ValueError(
            f"{op}: unknown `padding` {padding!r}; expected 'VALID', 'SAME', "
            "an int, an (h, w) pair or ((top, bottom), (left, right))"
        )
    else:
        pads = explicit_padding(padding, op)
    return _Geometry(stride, pads, out_pad, dilation, int(groups))


def _out_hw(geo: _Geometry, in_hw, kernel_hw) -> Pair:
    """``H_out = (H - 1) s - p_t - p_b + d (K - 1) + 1 + q`` per axis."""
    return tuple(
        (h - 1) * s - p[0] - p[1] + d * (kk - 1) + 1 + q
        for h, kk, s, p, d, q in zip(
            in_hw,
            kernel_hw,
            geo.stride,
            geo.padding,
            geo.dilation,
            geo.output_padding,
            strict=True,
        )
    )


def _reached_hw(geo: _Geometry, out_hw) -> Pair:
    """Output rows some input reaches: ``H_out`` less the ``max(q - p_b, 0)`` rows past them."""
    return tuple(
        o - max(q - p[1], 0)
        for o, q, p in zip(out_hw, geo.output_padding, geo.padding, strict=True)
    )


def _conv_padding(geo: _Geometry):
    """The transposed conv's padding on the reached rows: ``(p_t, max(p_b - q, 0))``."""
    return tuple(
        (p[0], max(p[1] - q, 0)) for p, q in zip(geo.padding, geo.output_padding, strict=True)
    )


def _check_shapes(op, x, w, b, geo: _Geometry) -> None:
    if w.ndim != 4 or min(w.shape[:2]) < 1:
        raise ValueError(
            f"{op}: `w` must have rank 4 (KH, KW, C_out/groups, C_in) with "
            f"KH, KW >= 1, got shape {w.shape}"
        )
    if w.shape[3] != x.shape[3]:
        raise ValueError(
            f"{op}: `w` expects C_in={w.shape[3]} (its last axis) but `x` has C={x.shape[3]}"
        )
    if x.shape[3] % geo.groups or w.shape[2] < 1:
        raise ValueError(
            f"{op}: `groups`={geo.groups} must divide the input channels "
            f"C={x.shape[3]}, and `w` needs C_out/groups >= 1, got {w.shape}"
        )
    c_out = w.shape[2] * geo.groups
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"{op}: `b` must have shape (C_out,) = ({c_out},), got {b.shape}")
    out_hw = _out_hw(geo, x.shape[1:3], w.shape[:2])
    if min(_reached_hw(geo, out_hw)) < 1:
        raise ValueError(
            f"{op}: `padding` {geo.padding} crops every output row or column an input "
            f"reaches (H_out, W_out would be {out_hw}, "
            f"{_reached_hw(geo, out_hw)} of them reached); nothing would be left to compute"
        )
    check_same_dtype(op, ("x", "w", "b"), x, w, b)


def conv_transpose2d(
    x: jax.typing.ArrayLike,
    w: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike | None = None,
    *,
    stride: int | Pair = 1,
    padding: Any = 0,
    output_padding: int | Pair = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> jax.Array:
    """Transposed convolution ("deconvolution"), PyTorch's ``conv_transpose2d`` in NHWC.

    Args:
      x: input, shape ``(N, H, W, C_in)``, floating.
      w: kernel, shape ``(KH, KW, C_out/groups, C_in)``: the HWIO kernel of the ``conv2d``
        (``C_out -> C_in``) whose input gradient this is. PyTorch's ``ConvTranspose2d``
        weight ``(C_in, C_out/groups, KH, KW)`` maps to it by ``.transpose(2, 3, 1, 0)``.
      b: optional bias ``(C_out,)``; ``None`` for none.
      stride: int or ``(sh, sw)``, >= 1.
      padding: an int, an ``(h, w)`` pair or ``((top, bottom), (left, right))``, >= 0:
        rows/columns cropped off the full output, as PyTorch's ``padding``; ``"VALID"`` is 0;
        ``"SAME"`` gives ``H_out = H * sh`` as ``lax.conv_transpose(padding="SAME")``: it
        crops ``max(k - s, 0)`` rows (``k = dh*(KH-1)+1``, the floor half on top) or adds
        ``s - k`` zero rows at the bottom when ``s > k``; ``output_padding`` must then be 0.
      output_padding: int or pair, ``0 <= q < max(stride, dilation)``: extra rows/columns at
        the bottom/right (zero beyond the rows an input reaches, plus the bias).
      dilation: int or ``(dh, dw)``, >= 1.
      groups: dividing ``C_in``; ``C_out = groups * w.shape[2]``.

    Returns:
      ``(N, H_out, W_out, C_out)`` in ``x``'s dtype, with
      ``H_out = (H - 1)*sh - top - bottom + dh*(KH - 1) + output_padding_h + 1``.

    Residuals: ``x`` and ``w`` (the bias gradient needs only the cotangent).

    Raises:
      ValueError: on wrong ranks, channel/group/bias mismatches, bad stride, dilation,
        output_padding or padding, or a padding that crops every output row/column an input reaches.
      TypeError: on non-floating or mixed-dtype arrays, or malformed configuration.

    >>> import jax.numpy as jnp
    >>> y = conv_transpose2d(jnp.ones((1, 2, 2, 1)), jnp.ones((3, 3, 1, 1)), stride=2)
    >>> y.shape, y[0, :, 0, 0].tolist()
    ((1, 5, 5, 1), [1.0, 1.0, 2.0, 1.0, 1.0])
    >>> conv_transpose2d(jnp.ones((2, 4, 3, 6)), jnp.ones((4, 4, 2, 6)), stride=2,
    ...                  padding=1, output_padding=1, groups=3).shape
    (2, 9, 7, 6)
    """
    op = "conv_transpose2d"
    x, w = as_float_array(op, "x", x), as_float_array(op, "w", w)
    b = None if b is None else as_float_array(op, "b", b)
    check_nhwc(op, "x", x)
    if w.ndim != 4:
        raise ValueError(
            f"{op}: `w` must have rank 4 (KH, KW, C_out/groups, C_in), got shape {w.shape}"
        )
    geo = _geometry(op, w.shape[:2], stride, padding, output_padding, dilation, groups)
    _check_shapes(op, x, w, b, geo)
    return _conv_transpose2d(x, w, b, geo, b is not None)


def _conv_kwargs(geo: _Geometry) -> dict:
    """The transposed conv2d's configuration."""
    return dict(
        stride=geo.stride, padding=_conv_padding(geo), dilation=geo.dilation, groups=geo.groups
    )


def _plain_conv2d(z, w, geo: _Geometry):
    """``conv2d(z, w)`` as one ``lax`` call: no ``custom_vjp``, so ``jacfwd`` of the bwd works."""
    y = lax.conv_general_dilated(
        z,
        w,
        window_strides=geo.stride,
        padding=_conv_padding(geo),
        rhs_dilation=geo.dilation,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=geo.groups,
        preferred_element_type=acc_dtype(z.dtype),
    )
    return y.astype(z.dtype)


def _forward(x, w, b, geo: _Geometry):
    n, c_out = x.shape[0], w.shape[2] * geo.groups
    out_hw = _out_hw(geo, x.shape[1:3], w.shape[:2])
    reached = _reached_hw(geo, out_hw)
    y = conv2d_grad_input(x, w, (n, *reached, c_out), **_conv_kwargs(geo))
    if reached != out_hw:  # output_padding > p_b: the rows past the full output are zero
        cfg = [(0, 0, 0), (0, out_hw[0] - reached[0], 0), (0, out_hw[1] - reached[1], 0)]
        y = lax.pad(y, jnp.zeros((), y.dtype), [*cfg, (0, 0, 0)])
    if b is not None:
        y = (
            y.astype(acc_dtype(y.dtype)) + b.astype(acc_dtype(y.dtype)).reshape(1, 1, 1, -1)
        ).astype(y.dtype)
    return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _conv_transpose2d(x, w, b, geo: _Geometry, has_bias: bool):
    del has_bias  # static twin of `b is not None`, read by the bwd
    return _forward(x, w, b, geo)


class _ConvTranspose2dRes(NamedTuple):
    x: jax.Array  # (N, H, W, C_in): the weight gradient correlates ct_y with it
    w: jax.Array  # (KH, KW, C_out/groups, C_in): the input gradient convolves ct_y with it


def _conv_transpose2d_fwd(x, w, b, geo, has_bias):
    return _forward(x, w, b, geo), _ConvTranspose2dRes(x, w)


# _conv_transpose2d_bwd :: (geo, has_bias, residuals, ct_y) -> (ct_x, ct_w, ct_b)
def _conv_transpose2d_bwd(geo: _Geometry, has_bias: bool, res: _ConvTranspose2dRes, ct_y):
    r"""VJP of conv_transpose2d.

    One spatial axis, channels and groups aside; :math:`X` is ``res.x``, :math:`W` ``res.w``,
    :math:`\bar Y` ``ct_y``. The forward scatters each input through the kernel:

    .. math::
        Y_i = \sum_{o,k:\; s o + d k = i + p_t} X_o W_k + b,
        \qquad 0 \le i < H_{out},

    the transpose of :math:`Z \mapsto \mathrm{conv2d}(Z, W)_o = \sum_k Z^{pad}_{s o + d k} W_k`.
    Hence, differentiating the same sum,

    .. math::
        \frac{\partial L}{\partial X_o} = \sum_k \bar Y_{s o + d k - p_t} W_k
        = \mathrm{conv2d}(\bar Y, W)_o,
        \qquad
        \frac{\partial L}{\partial W_k} = \sum_{n,o} \bar Y_{n,\, s o + d k - p_t} X_{n,o}
        = \texttt{conv2d\_grad\_weight}(\bar Y, X)_k,

    with the same stride, crop-as-padding, dilation and groups, and
    :math:`\partial L/\partial b = \sum_{n,i} \bar Y_{n,i}`. Rows of :math:`\bar Y` past the
    full output (``output_padding > p_b``) meet no :math:`(o, k)`: they drop out; the conv
    in question pads its bottom by :math:`\max(p_b - q, 0)`.
    In channels, :math:`W`'s ``(C_out/groups, C_in)`` are the conv's (I, O), so ∂L/∂X is a
    plain grouped conv2d and ∂L/∂W a conv2d weight gradient whose "input" is :math:`\bar Y`.

    The code: crop ``ct_y`` to the reached rows; ∂L/∂X is the strided, dilated, grouped
    conv2d of Ȳ with ``w`` (one ``lax`` convolution, no ``custom_vjp``, so that forward-mode
    over this bwd works); ∂L/∂W is the batch-contracted correlation
    ``conv2d_grad_weight(Ȳ, X)``; ∂L/∂b sums Ȳ over N, H, W in the accumulation dtype.
    """
    x, w = res
    reached = _reached_hw(geo, ct_y.shape[1:3])
    ct = ct_y[:, : reached[0], : reached[1], :]
    ct_x = _plain_conv2d(ct, w, geo)
    ct_w = conv2d_grad_weight(ct, x, w.shape, **_conv_kwargs(geo))
    ct_b = None
    if has_bias:
        ct_b = jnp.sum(ct_y.astype(acc_dtype(ct_y.dtype)), axis=(0, 1, 2)).astype(ct_y.dtype)
    return ct_x, ct_w, ct_b


_conv_transpose2d.defvjp(_conv_transpose2d_fwd, _conv_transpose2d_bwd)
