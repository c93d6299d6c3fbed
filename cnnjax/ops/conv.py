r"""2-D convolution (NHWC x HWIO -> NHWC) with a hand-derived VJP.

``conv2d`` is a ``jax.custom_vjp`` whose backward pass is two further convolutions, exposed as
public helpers (as PyTorch's ``torch/nn/grad.py``): :func:`conv2d_grad_input` (∂L/∂X) and
:func:`conv2d_grad_weight` (∂L/∂W); the bwd calls exactly these. Both are plain
``lax.conv_general_dilated`` calls, so grad-of-grad and forward-over-reverse work through them.
On CPU, convolutions with one input channel per group (grayscale inputs, depthwise layers) run
instead as an elementwise sum over the kernel taps (:mod:`cnnjax.ops._conv_taps`: the same sum
in another order, many times faster there than XLA's Eigen kernel).

Notation (one spatial axis; H and W are independent and identical): input length ``H``, kernel
length ``K``, stride ``s``, dilation ``d``, padding ``(p_lo, p_hi)``, effective kernel
``k_eff = d (K - 1) + 1``, output length ``O = (H + p_lo + p_hi - k_eff) // s + 1`` and the
*remainder* ``r = H + p_lo + p_hi - k_eff - s (O - 1)`` (``0 <= r < s``): the trailing padded
rows that no output window reached because the stride stepped over them.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._arraylike import as_array
from cnnjax.ops._conv_taps import tap_sum_conv, use_taps
from cnnjax.ops._util import acc_dtype, check_float, check_rank, check_same_dtype
from cnnjax.ops.geometry import Pair, WindowGeometry, window_geometry

__all__ = ["conv2d", "conv2d_grad_input", "conv2d_grad_weight"]

_NHWC = ("NHWC", "HWIO", "NHWC")


def _geometry(op, in_hw, kernel_hw, stride, padding, dilation, groups) -> WindowGeometry:
    """Validate and normalise stride, dilation, padding (any form) and groups."""
    geo = window_geometry(
        op,
        in_hw,
        kernel_hw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        what="effective kernel (d*(k-1)+1)",
    )
    if not isinstance(groups, int) or isinstance(groups, bool):
        raise TypeError(f"{op}: `groups` must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{op}: `groups` must be >= 1, got {groups}")
    return geo


def _check_nonempty(op, x_name, x_shape, w_name, w_shape) -> None:
    """A batch of at least one example and a kernel with no zero dimension."""
    if x_shape[0] == 0:
        raise ValueError(
            f"{op}: `{x_name}` must hold at least one example (N >= 1), got shape {x_shape}"
        )
    if 0 in w_shape:
        raise ValueError(
            f"{op}: `{w_name}` must have no zero dimension (KH, KW, C_in/groups, C_out >= 1), "
            f"got shape {w_shape}"
        )


def _check_groups(op, groups, c_in, kernel_shape, what) -> None:
    """``kernel_shape = (KH, KW, C_in/groups, C_out)`` must fit ``c_in`` channels in groups."""
    g, c_out = groups, kernel_shape[3]
    if c_in % g:
        raise ValueError(f"{op}: `groups`={g} must divide the input channels C={c_in}")
    if c_out % g:
        raise ValueError(f"{op}: `groups`={g} must divide the output channels C_out={c_out}")
    if kernel_shape[2] * g != c_in:
        raise ValueError(
            f"{op}: `{what}` expects C_in/groups={kernel_shape[2]} but the input has "
            f"C={c_in} and groups={g}"
        )


# ------------------------------------------------------------------------------------- conv2d


def conv2d(
    x: jax.typing.ArrayLike,
    w: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike | None = None,
    *,
    stride: int | Pair = 1,
    padding: Any = "VALID",
    dilation: int | Pair = 1,
    groups: int = 1,
) -> jax.Array:
    """2-D cross-correlation ("convolution" in deep learning), NHWC input, HWIO kernel.

    Args:
      x: input, shape ``(N, H, W, C)``, floating.
      w: kernel, shape ``(KH, KW, C/groups, C_out)``, same dtype as ``x``.
      b: optional bias, shape ``(C_out,)``, same dtype; ``None`` for no bias.
      stride: int or ``(sh, sw)``, >= 1.
      padding: ``"VALID"``, ``"SAME"`` (output ``ceil(H / s)``, the odd extra pad at the end,
        as in ``lax``; computed with the effective kernel ``d*(k-1)+1``), an int (all sides),
        an ``(h, w)`` pair (symmetric) or ``((top, bottom), (left, right))``, all >= 0.
      dilation: int or ``(dh, dw)``, >= 1 (kernel dilation, "atrous").
      groups: feature groups, dividing ``C`` and ``C_out``; ``groups == C`` is depthwise
        (``C_out`` a multiple of ``C``: the channel multiplier).

    Returns:
      ``(N, H_out, W_out, C_out)`` in ``x``'s dtype, with
      ``H_out = (H + p_top + p_bottom - dh*(KH-1) - 1) // sh + 1`` (likewise ``W_out``).
      bfloat16/float16 accumulate in float32 and are rounded once at the end.

    Residuals: ``x`` and ``w`` (the bias gradient needs only the cotangent).

    Raises:
      ValueError: on an empty batch (N = 0), a kernel with a zero dimension, a wrong rank,
        channel/group mismatch, bias shape, non-positive stride or
        dilation, unknown or negative padding, or a kernel larger than the padded input.
      TypeError: on non-floating inputs or mixed dtypes.

    >>> import jax.numpy as jnp
    >>> x = jnp.ones((1, 4, 4, 1))
    >>> w = jnp.ones((3, 3, 1, 2))
    >>> conv2d(x, w, padding="SAME")[0, :, :, 0].tolist()
    [[4.0, 6.0, 6.0, 4.0], [6.0, 9.0, 9.0, 6.0], [6.0, 9.0, 9.0, 6.0], [4.0, 6.0, 6.0, 4.0]]
    >>> conv2d(jnp.ones((2, 7, 5, 4)), jnp.ones((3, 3, 2, 6)), stride=2, groups=2).shape
    (2, 3, 2, 6)
    """
    op = "conv2d"
    x, w = as_array(op, "x", x), as_array(op, "w", w)
    b = None if b is None else as_array(op, "b", b)
    check_rank(op, "x", x, 4, "(N, H, W, C)")
    check_rank(op, "w", w, 4, "(KH, KW, C_in/groups, C_out)")
    check_float(op, "x", x)
    check_float(op, "w", w)
    if b is not None:
        check_float(op, "b", b)
    check_same_dtype(op, ("x", "w", "b"), x, w, b)
    x_shape, w_shape = jnp.shape(x), jnp.shape(w)
    _check_nonempty(op, "x", x_shape, "w", w_shape)
    geo = _geometry(op, x_shape[1:3], w_shape[:2], stride, padding, dilation, groups)
    _check_groups(op, groups, x_shape[3], w_shape, "w")
    if b is not None and jnp.shape(b) != (w_shape[3],):
        raise ValueError(
            f"{op}: `b` must have shape (C_out,) = ({w_shape[3]},), got {jnp.shape(b)}"
        )
    b = None if b is None else jnp.asarray(b)
    return _conv2d(jnp.asarray(x), jnp.asarray(w), b, geo, groups, b is not None)


def _conv_acc(lhs, rhs, dimension_numbers, **kwargs):
    """``lax.conv_general_dilated`` accumulating (and returning) in ``acc_dtype(lhs.dtype)``."""
    return lax.conv_general_dilated(
        lhs,
        rhs,
        dimension_numbers=dimension_numbers,
        preferred_element_type=acc_dtype(lhs.dtype),
        **kwargs,
    )


def _conv_or_taps(lhs, rhs, geo: WindowGeometry, groups: int, lhs_dilation=(1, 1)):
    """``lax`` convolution in the accumulation dtype; by taps on CPU where that is faster."""

    def via_lax(lhs, rhs):
        return _conv_acc(
            lhs,
            rhs,
            _NHWC,
            window_strides=geo.stride,
            padding=geo.padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=geo.dilation,
            feature_group_count=groups,
        )

    if lhs_dilation != (1, 1) or not use_taps(rhs.shape, groups):
        return via_lax(lhs, rhs)
    by_taps = functools.partial(tap_sum_conv, geo=geo, groups=groups)
    return lax.platform_dependent(lhs, rhs, cpu=by_taps, default=via_lax)


def _forward(x, w, b, geo: WindowGeometry, groups: int):
    y = _conv_or_taps(x, w, geo, groups)
    if b is not None:
        y = y + b.astype(y.dtype).reshape(1, 1, 1, -1)
    return y.astype(x.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _conv2d(x, w, b, geo: WindowGeometry, groups: int, has_bias: bool):
    del has_bias  # static twin of `b is not None`, read by the bwd
    return _forward(x, w, b, geo, groups)


class _Conv2dRes(NamedTuple):
    x: jax.Array  # (N, H, W, C): the weight gradient correlates it with ct_y
    w: jax.Array  # (KH, KW, C/groups, C_out): the input gradient convolves ct_y with it


def _conv2d_fwd(x, w, b, geo, groups, has_bias):
    return _forward(x, w, b, geo, groups), _Conv2dRes(x, w)


# _conv2d_bwd :: (geo, groups, has_bias, residuals, ct_y) -> (ct_x, ct_w, ct_b)
def _conv2d_bwd(geo: WindowGeometry, groups: int, has_bias: bool, res: _Conv2dRes, ct_y):
    r"""VJP of conv2d.

    .. math::
        Y_{n,o,c'} = \sum_{k,c} X^{pad}_{n,\,s o + d k,\,c}\; W_{k,c,c'} + b_{c'}

    (one spatial axis shown), so with :math:`\bar Y` bound to ``ct_y``, :math:`X` to ``res.x``
    and :math:`W` to ``res.w``:

    .. math::
        \frac{\partial L}{\partial X} = \texttt{conv2d\_grad\_input}(\bar Y, W), \quad
        \frac{\partial L}{\partial W} = \texttt{conv2d\_grad\_weight}(X, \bar Y), \quad
        \frac{\partial L}{\partial b_{c'}} = \sum_{n,o} \bar Y_{n,o,c'}

    (both helpers derive their rule in their docstrings). The code calls the two helpers and
    sums ``ct_y`` over N, H, W in the accumulation dtype; no bias means no bias cotangent.
    """
    x, w = res
    config = dict(stride=geo.stride, padding=geo.padding, dilation=geo.dilation, groups=groups)
    ct_x = conv2d_grad_input(ct_y, w, x.shape, **config)
    ct_w = conv2d_grad_weight(x, ct_y, w.shape, **config)
    ct_b = None
    if has_bias:
        ct_b = jnp.sum(ct_y.astype(acc_dtype(ct_y.dtype)), axis=(0, 1, 2)).astype(ct_y.dtype)
    return ct_x, ct_w, ct_b


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


# ---------------------------------------------------------------------------- gradient helpers


def _check_helper_args(op, ct_y, other, other_name, other_layout):
    check_rank(op, "ct_y", ct_y, 4, "(N, H_out, W_out, C_out)")
    check_rank(op, other_name, other, 4, other_layout)
    check_float(op, "ct_y", ct_y)
    check_float(op, other_name, other)
    check_same_dtype(op, ("ct_y", other_name), ct_y, other)


def _check_shape_arg(op, name, shape, layout) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) != 4 or not all(isinstance(v, int) and v >= 1 for v in shape):
        raise ValueError(f"{op}: `{name}` must be 4 positive ints {layout}, got {shape!r}")
    return shape


def _check_ct_y(op, ct_y, geo: WindowGeometry, x_shape, w_shape) -> None:
    want = (x_shape[0], *geo.out_hw, w_shape[3])
    if jnp.shape(ct_y) != want:
        raise ValueError(f"{op}: `ct_y` must have the output shape {want}, got {jnp.shape(ct_y)}")


def _remainders(geo: WindowGeometry) -> Pair:
    """``r = H + p_lo + p_hi - k_eff - s (O - 1)``: padded rows past the last window."""
    return tuple(
        h + p[0] + p[1] - k - s * (o - 1)
        for h, p, k, s, o in zip(
            geo.in_hw, geo.padding, geo.effective, geo.stride, geo.out_hw, strict=True
        )
    )


def conv2d_grad_input(
    ct_y: jax.typing.ArrayLike,
    w: jax.typing.ArrayLike,
    input_shape: tuple[int, int, int, int],
    *,
    stride: int | Pair = 1,
    padding: Any = "VALID",
    dilation: int | Pair = 1,
    groups: int = 1,
) -> jax.Array:
    r"""∂L/∂X of ``conv2d(x, w, stride=..., padding=..., dilation=..., groups=...)``.

    Args:
      ct_y: output cotangent :math:`\bar Y`, shape ``(N, H_out, W_out, C_out)``.
      w: the kernel :math:`W`, shape ``(KH, KW, C/groups, C_out)``, ``ct_y``'s dtype.
      input_shape: ``(N, H, W, C)`` of ``x``: several ``H`` give the same ``H_out`` under a
        stride, so the target shape must be given.
      stride, padding, dilation, groups: as in :func:`conv2d`.

    Returns:
      ∂L/∂X, shape ``input_shape``, ``ct_y``'s dtype.

    Derivation (one spatial axis; the other is identical). The forward is
    :math:`Y_{o} = \sum_k X^{pad}_{s o + d k} W_k` (channels aside), so

    .. math::
        \frac{\partial L}{\partial X^{pad}_i} = \sum_{o,k:\; s o + d k = i} \bar Y_o W_k
        = \sum_k \tilde Y_{i - d k}\, W_k,
        \qquad \tilde Y_{s o} = \bar Y_o \text{ (zeros between)},

    where :math:`\tilde Y` is :math:`\bar Y` dilated by the stride (``lhs_dilation = s``,
    length :math:`s(O-1)+1`). Substituting :math:`k' = K-1-k` turns this into a
    cross-correlation of :math:`\tilde Y` with the spatially flipped kernel at rhs dilation
    :math:`d`. Keeping only the unpadded rows :math:`i = p_{lo} + j`, :math:`0 \le j < H`,
    :math:`\tilde Y` is padded by :math:`d(K-1) - p_{lo}` before and
    :math:`d(K-1) - p_{hi} + r` after, ``r`` being the rows the forward stride never reached
    (they get zero gradient; negative pads crop). Channels: the kernel's I and O swap, per
    group: :math:`W` viewed as ``(KH, KW, C/G, G, C_out/G)`` becomes
    ``(KH, KW, C_out/G, G*C/G)`` with ``feature_group_count = G``.

    The code: ∂L/∂X is the stride-dilated convolution of Ȳ with the spatially flipped,
    IO-swapped kernel, with the padding above (on CPU, a depthwise one with unit stride runs
    as a sum over taps, :mod:`cnnjax.ops._conv_taps`).

    >>> import jax.numpy as jnp
    >>> conv2d_grad_input(jnp.ones((1, 2, 2, 1)), jnp.ones((2, 2, 1, 1)), (1, 3, 3, 1),
    ...                   stride=1)[0, :, :, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    op = "conv2d_grad_input"
    _check_helper_args(op, ct_y, w, "w", "(KH, KW, C_in/groups, C_out)")
    _check_nonempty(op, "ct_y", jnp.shape(ct_y), "w", jnp.shape(w))
    x_shape = _check_shape_arg(op, "input_shape", input_shape, "(N, H, W, C)")
    ct_y, w = jnp.asarray(ct_y), jnp.asarray(w)
    geo = _geometry(op, x_shape[1:3], w.shape[:2], stride, padding, dilation, groups)
    _check_groups(op, groups, x_shape[3], w.shape, "w")
    _check_ct_y(op, ct_y, geo, x_shape, w.shape)
    kh, kw, c_in_g, c_out = w.shape
    w_t = jnp.flip(w, (0, 1)).reshape(kh, kw, c_in_g, groups, c_out // groups)
    w_t = w_t.transpose(0, 1, 4, 3, 2).reshape(kh, kw, c_out // groups, groups * c_in_g)
    pads = tuple(
        (k - 1 - p[0], k - 1 - p[1] + r)
        for k, p, r in zip(geo.effective, geo.padding, _remainders(geo), strict=True)
    )
    # Unit-stride correlation over Ȳ dilated to s (O - 1) + 1 rows: its output is (H, W).
    dilated_hw = tuple(s * (o - 1) + 1 for s, o in zip(geo.stride, geo.out_hw, strict=True))
    geo_t = WindowGeometry(dilated_hw, geo.window, (1, 1), geo.dilation, pads)
    ct_x = _conv_or_taps(ct_y, w_t, geo_t, groups, lhs_dilation=geo.stride)
    return ct_x.astype(ct_y.dtype)


def conv2d_grad_weight(
    x: jax.typing.ArrayLike,
    ct_y: jax.typing.ArrayLike,
    kernel_shape: tuple[int, int, int, int],
    *,
    stride: int | Pair = 1,
    padding: Any = "VALID",
    dilation: int | Pair = 1,
    groups: int = 1,
) -> jax.Array:
    r"""∂L/∂W of ``conv2d(x, w, stride=..., padding=..., dilation=..., groups=...)``.

    Args:
      x: the input :math:`X`, shape ``(N, H, W, C)``.
      ct_y: output cotangent :math:`\bar Y`, shape ``(N, H_out, W_out, C_out)``, ``x``'s dtype.
      kernel_shape: ``(KH, KW, C/groups, C_out)`` of ``w``.
      stride, padding, dilation, groups: as in :func:`conv2d`.

    Returns:
      ∂L/∂W, shape ``kernel_shape``, ``x``'s dtype.

    Derivation (one spatial axis; the other is identical). From
    :math:`Y_{n,o,c'} = \sum_{k,c} X^{pad}_{n,\,s o + d k,\,c} W_{k,c,c'}`:

    .. math::
        \frac{\partial L}{\partial W_{k,c,c'}}
        = \sum_{n,o} X^{pad}_{n,\,d k + s o,\,c}\; \bar Y_{n,o,c'},

    the correlation of :math:`X` with :math:`\bar Y`: a convolution whose "kernel" is
    :math:`\bar Y` dilated by the stride (``rhs_dilation = s``), whose window stride is the
    dilation ``d``, and whose contraction runs over the batch: X's N is the feature dimension
    and its C the batch (``lhs_spec = "CHWN"``), Ȳ's N is I and C_out is O (``"IHWO"``), the
    result ``(KH, KW, C/G, C_out)`` (``"HWNC"``). The padding is :math:`(p_{lo}, p_{hi} - r)`:
    the ``r`` rows past the last window never met a kernel tap, and dropping them makes the
    output exactly ``K`` long. Groups: group ``g`` pairs input channels
    :math:`[gC/G, (g+1)C/G)` with output channels :math:`[gC'/G, (g+1)C'/G)`; with C as the
    batch this is ``batch_group_count = G`` (contiguous batch groups, each matched to its
    block of O), which yields exactly the ``C/G`` rows of the kernel.

    The code: ∂L/∂W is that batch-contracted, stride-dilated correlation of X with Ȳ.

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    >>> conv2d_grad_weight(x, jnp.ones((1, 2, 2, 1)), (2, 2, 1, 1))[:, :, 0, 0].tolist()
    [[8.0, 12.0], [20.0, 24.0]]
    """
    op = "conv2d_grad_weight"
    _check_helper_args(op, ct_y, x, "x", "(N, H, W, C)")
    w_shape = _check_shape_arg(op, "kernel_shape", kernel_shape, "(KH, KW, C_in/groups, C_out)")
    _check_nonempty(op, "x", jnp.shape(x), "kernel_shape", w_shape)
    x, ct_y = jnp.asarray(x), jnp.asarray(ct_y)
    geo = _geometry(op, x.shape[1:3], w_shape[:2], stride, padding, dilation, groups)
    _check_groups(op, groups, x.shape[3], w_shape, "kernel_shape")
    _check_ct_y(op, ct_y, geo, x.shape, w_shape)
    pads = tuple((p[0], p[1] - r) for p, r in zip(geo.padding, _remainders(geo), strict=True))
    ct_w = _conv_acc(
        x,
        ct_y,
        ("CHWN", "IHWO", "HWNC"),
        window_strides=geo.dilation,
        padding=pads,
        rhs_dilation=geo.stride,
        batch_group_count=groups,
    )
    return ct_w.astype(x.dtype)
