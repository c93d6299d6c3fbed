"""Batch norm (training and inference) and layer norm, each a ``jax.custom_vjp`` with a hand VJP.

Layer norm saves the normalised input :math:`\\hat x` (in the input's dtype) and the inverse
standard deviation :math:`1/\\sigma`; both batch norms save their input ``x`` with the per-channel
mean and :math:`1/\\sigma` (why: see :func:`batch_norm`). Statistics and the backward sums run in
float32 for bfloat16/float16 inputs. ``scale`` and ``bias`` may be None (no affine map); the
per-example group and instance norms are in :mod:`cnnjax.ops.norm_group`.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from cnnjax.ops._norm import (
    as_float_arrays,
    check_eps,
    check_param_shape,
    check_rank_at_least,
    expand,
    standardize,
    standardize_grad_input,
)
from cnnjax.ops._util import acc_dtype

__all__ = ["batch_norm", "batch_norm_inference", "layer_norm"]


def _affine(x_hat, scale, bias):
    """``x_hat * scale + bias`` in ``x_hat``'s dtype; None skips either term."""
    y = x_hat if scale is None else x_hat * expand(scale.astype(x_hat.dtype), x_hat.ndim)
    return y if bias is None else y + expand(bias.astype(x_hat.dtype), x_hat.ndim)


def _check_channel_args(op: str, x, scale, bias, eps, extra=()) -> tuple[Any, ...]:
    """Shared boundary of the batch norms: arrays converted, ``(C,)`` parameters, ``eps``."""
    names = ("x", *(n for n, _ in extra), "scale", "bias")
    for name, v in extra:
        if v is None:
            raise TypeError(f"{op}: `{name}` must be a (C,) array, got None")
    x, *rest = as_float_arrays(op, names, x, *(v for _, v in extra), scale, bias)
    check_rank_at_least(op, x, 2, "(N, ..., C)")
    if x.size == 0 and x.shape[-1] > 0:
        raise ValueError(f"{op}: `x` must have at least one position per channel, got {x.shape}")
    for name, v in zip(names[1:], rest, strict=True):
        check_param_shape(op, name, v, (x.shape[-1],), "to match x's last axis")
    return (x, *rest, check_eps(op, eps))


# --------------------------------------------------------------------------------- batch_norm


def batch_norm(
    x: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike | None,
    bias: jax.typing.ArrayLike | None,
    *,
    eps: float = 1e-5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode batch normalisation over every axis but the last (the channel axis).

    ``y = scale * (x - mean) / sqrt(var + eps) + bias`` with the batch statistics over the
    ``M = prod(x.shape[:-1])`` positions of each channel.

    Args:
      x: floating array ``(N, ..., C)``, rank >= 2 (``(N, C)`` or NHWC ``(N, H, W, C)``), M > 0.
      scale: ``(C,)``, same dtype as ``x``, or None (no scaling).
      bias: ``(C,)``, same dtype as ``x``, or None (no shift).
      eps: static float > 0 added to the variance.

    Returns:
      ``(y, batch_mean, batch_var)``: ``y`` of ``x``'s shape, ``batch_mean`` and the biased
      ``batch_var`` (divided by ``M``) of shape ``(C,)``, all in ``x``'s dtype. All three are
      differentiable (a loss on the running statistics back-propagates into ``x``).

    Residuals (:class:`_BatchNormRes`): ``x`` itself, ``mean`` and ``inv_std`` ``(C,)`` and
    ``scale``, not :math:`\\hat x`, although both weigh the same: in a network the input of a
    batch norm is a convolution's output that XLA keeps alive anyway, so a saved :math:`\\hat x`
    would be a second copy (the measured temp memory is in benchmarks/README.md). The backward's
    :math:`\\sum_i \\bar y_i \\hat x_i` is then a one-pass sum shifted by the channel's first
    value :math:`x_0` (see the VJP), exact for a constant channel.

    Raises:
      ValueError: ``x`` of rank < 2 or with no position (N = 0), ``scale``/``bias`` not ``(C,)``,
        ``eps <= 0``.
      TypeError: non-floating ``x``, mixed dtypes, non-real ``eps``.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1.0, 2.0], [3.0, 6.0]])
    >>> y, mean, var = batch_norm(x, jnp.ones(2), None, eps=1e-12)
    >>> y.round(6).tolist(), mean.tolist(), var.tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [2.0, 4.0], [1.0, 4.0])
    """
    x, scale, bias, eps = _check_channel_args("batch_norm", x, scale, bias, eps)
    return _batch_norm(x, scale, bias, eps, bias is not None)


class _BatchNormRes(NamedTuple):
    x: jax.Array  # x.shape, x's dtype: the input itself (see batch_norm's Residuals)
    mean: jax.Array  # (C,), accumulation dtype
    inv_std: jax.Array  # (C,), accumulation dtype: 1 / sqrt(var + eps)
    scale: jax.Array | None  # (C,) or None


# `has_bias` is static: the bwd must return None for an absent bias, and no residual says so.
@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _batch_norm(x, scale, bias, eps, has_bias):
    return _batch_norm_fwd(x, scale, bias, eps, has_bias)[0]


def _batch_norm_fwd(x, scale, bias, eps, has_bias):
    x_hat, mean, var, inv_std = standardize(x, tuple(range(x.ndim - 1)), eps)
    y = _affine(x_hat, scale, bias)
    outputs = (y.astype(x.dtype), mean.reshape(-1).astype(x.dtype), var.reshape(-1).astype(x.dtype))
    return outputs, _BatchNormRes(x, mean.reshape(-1), inv_std.reshape(-1), scale)


# _batch_norm_bwd :: (eps, has_bias, residuals, (ct_y, ct_mean, ct_var))
#                    -> (ct_x, ct_scale, ct_bias)
def _batch_norm_bwd(eps: float, has_bias: bool, res: _BatchNormRes, cts):
    r"""VJP of batch_norm, with cotangents on all three outputs.

    Per channel, over the :math:`M` positions :math:`i`: :math:`\mu = \frac1M\sum_i x_i`,
    :math:`v = \frac1M\sum_i (x_i-\mu)^2`, :math:`r = (v+\epsilon)^{-1/2}`,
    :math:`\hat x_i = (x_i-\mu) r`, :math:`y_i = \gamma \hat x_i + \beta`. Let
    :math:`\bar y, \bar\mu, \bar v` be ``cts`` and :math:`\gamma` be ``res.scale`` (1 if None).
    With :math:`\partial\mu/\partial x_i = 1/M`, :math:`\partial v/\partial x_i = 2(x_i-\mu)/M`
    and :math:`\partial r/\partial x_i = -r^3 (x_i-\mu)/M`:

    .. math::
        \frac{\partial L}{\partial x_i}
          = \frac{\gamma r}{M}\Big(M\bar y_i - \sum_j \bar y_j
              - \hat x_i \sum_j \bar y_j \hat x_j\Big)
            + \frac{\bar\mu}{M} + \frac{2\bar v\,\hat x_i}{M r}, \qquad
        \frac{\partial L}{\partial \gamma} = \sum_i \bar y_i \hat x_i, \qquad
        \frac{\partial L}{\partial \beta} = \sum_i \bar y_i

    (:math:`x_i-\mu = \hat x_i / r`), with :math:`\hat x_i = (x_i - \mu) r` recomputed from
    ``res.x``, ``res.mean`` and ``res.inv_std`` and, for any per-channel shift :math:`x_0`,

    .. math::
        \sum_j \bar y_j \hat x_j
          = r\Big(\sum_j \bar y_j (x_j - x_0) - (\mu - x_0) \sum_j \bar y_j\Big).

    The code takes :math:`x_0` = the channel's first value, so the terms are of the size of the
    spread, not of :math:`|x|`. It computes the two sums over all axes but the last, then the
    bracket divided by :math:`M`, ``ct - mean(ct) - x_hat * mean(ct * x_hat)``, in float32 for
    low-precision inputs.
    """
    ct_y, ct_mean, ct_var = cts
    dtype, acc = res.x.dtype, res.inv_std.dtype
    ndim, m = res.x.ndim, res.x.size // res.x.shape[-1]
    axes = tuple(range(ndim - 1))
    ct, xa = ct_y.astype(acc), res.x.astype(acc)
    sum_ct = jnp.sum(ct, axis=axes)
    # One pass over x, shifted by x0: a sum over ct * x_hat would need x_hat materialised.
    x0 = xa[(0,) * (ndim - 1)]
    sum_ct_x_hat = res.inv_std * (
        jnp.sum(ct * (xa - expand(x0, ndim)), axis=axes) - (res.mean - x0) * sum_ct
    )
    inv_std = expand(res.inv_std, ndim)
    x_hat = (xa - expand(res.mean, ndim)) * inv_std
    gamma_r = inv_std if res.scale is None else expand(res.scale.astype(acc), ndim) * inv_std
    ct_x = (
        gamma_r * (ct - expand(sum_ct / m, ndim) - x_hat * expand(sum_ct_x_hat / m, ndim))
        + expand(ct_mean.astype(acc) / m, ndim)
        + x_hat * expand(2.0 * ct_var.astype(acc) / m, ndim) / inv_std
    )
    ct_scale = None if res.scale is None else sum_ct_x_hat.astype(dtype)
    return ct_x.astype(dtype), ct_scale, sum_ct.astype(dtype) if has_bias else None


_batch_norm.defvjp(_batch_norm_fwd, _batch_norm_bwd)


# ----------------------------------------------------------------------- batch_norm_inference


def batch_norm_inference(
    x: jax.typing.ArrayLike,
    mean: jax.typing.ArrayLike,
    var: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike | None,
    bias: jax.typing.ArrayLike | None,
    *,
    eps: float = 1e-5,
) -> jax.Array:
    """Eval-mode batch normalisation with given (running) statistics, per channel (last axis).

    ``y = scale * (x - mean) / sqrt(var + eps) + bias``, as PyTorch's ``F.batch_norm`` with
    ``training=False``; differentiable in every array argument.

    Args:
      x: floating array ``(N, ..., C)``, rank >= 2, at least one position per channel.
      mean: ``(C,)`` running mean, same dtype as ``x``.
      var: ``(C,)`` running variance (>= 0), same dtype as ``x``.
      scale: ``(C,)`` or None.
      bias: ``(C,)`` or None.
      eps: static float > 0 added to the variance.

    Returns:
      ``y`` of ``x``'s shape and dtype.

    Residuals (:class:`_BatchNormInferenceRes`): ``x``, ``mean``, ``inv_std`` ``(C,)`` and
    ``scale``, as for :func:`batch_norm` (``x`` is kept alive by the network anyway).

    Raises:
      ValueError: ``x`` of rank < 2 or empty, ``mean``/``var``/``scale``/``bias`` not ``(C,)``,
        ``eps <= 0``.
      TypeError: non-floating arrays, mixed dtypes, non-real ``eps``.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1.0, 2.0], [3.0, 6.0]])
    >>> y = batch_norm_inference(x, jnp.array([1.0, 2.0]), jnp.array([4.0, 1.0]), None, None)
    >>> y.round(4).tolist()
    [[0.0, 0.0], [1.0, 4.0]]
    """
    stats = (("mean", mean), ("var", var))
    x, mean, var, scale, bias, eps = _check_channel_args(
        "batch_norm_inference", x, scale, bias, eps, stats
    )
    return _batch_norm_inference(x, mean, var, scale, bias, eps, bias is not None)


class _BatchNormInferenceRes(NamedTuple):
    x: jax.Array  # x.shape, x's dtype
    mean: jax.Array  # (C,), accumulation dtype
    inv_std: jax.Array  # (C,), accumulation dtype: 1 / sqrt(var + eps)
    scale: jax.Array | None  # (C,) or None


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _batch_norm_inference(x, mean, var, scale, bias, eps, has_bias):
    return _batch_norm_inference_fwd(x, mean, var, scale, bias, eps, has_bias)[0]


def _batch_norm_inference_fwd(x, mean, var, scale, bias, eps, has_bias):
    acc = acc_dtype(x.dtype)
    mean_acc = mean.astype(acc)
    inv_std = jax.lax.rsqrt(var.astype(acc) + eps)
    x_hat = (x.astype(acc) - expand(mean_acc, x.ndim)) * expand(inv_std, x.ndim)
    y = _affine(x_hat, scale, bias).astype(x.dtype)
    return y, _BatchNormInferenceRes(x, mean_acc, inv_std, scale)


# _batch_norm_inference_bwd :: (eps, has_bias, residuals, ct_y)
#                              -> (ct_x, ct_mean, ct_var, ct_scale, ct_bias)
def _batch_norm_inference_bwd(eps: float, has_bias: bool, res: _BatchNormInferenceRes, ct_y):
    r"""VJP of batch_norm_inference.

    Per channel, with :math:`r = (v+\epsilon)^{-1/2}`, :math:`\hat x_i = (x_i - \mu) r` and
    :math:`y_i = \gamma \hat x_i + \beta`, where :math:`\mu, v` are the *given* ``mean`` and
    ``var`` (constants of :math:`x`). Let :math:`\bar y` be ``ct_y`` and :math:`\gamma` be
    ``res.scale`` (1 if None). With :math:`\partial r/\partial v = -r^3/2`, so that
    :math:`\partial \hat x_i/\partial v = -\hat x_i r^2 / 2`, summing over the positions
    :math:`i` of the channel:

    .. math::
        \frac{\partial L}{\partial x_i} = \gamma r \bar y_i, \quad
        \frac{\partial L}{\partial \mu} = -\gamma r \sum_i \bar y_i, \quad
        \frac{\partial L}{\partial v} = -\frac{\gamma r^2}{2} \sum_i \bar y_i \hat x_i, \quad
        \frac{\partial L}{\partial \gamma} = \sum_i \bar y_i \hat x_i, \quad
        \frac{\partial L}{\partial \beta} = \sum_i \bar y_i.

    The code recomputes :math:`\hat x` from ``res.x``, ``res.mean`` and ``res.inv_std``, takes
    the two channel sums over all axes but the last and scales them (float32 for low precision).
    """
    dtype, acc = res.x.dtype, res.inv_std.dtype
    ndim, axes = res.x.ndim, tuple(range(res.x.ndim - 1))
    ct = ct_y.astype(acc)
    x_hat = (res.x.astype(acc) - expand(res.mean, ndim)) * expand(res.inv_std, ndim)
    sum_ct = jnp.sum(ct, axis=axes)
    sum_ct_x_hat = jnp.sum(ct * x_hat, axis=axes)
    gamma_r = res.inv_std if res.scale is None else res.scale.astype(acc) * res.inv_std
    ct_x = ct * expand(gamma_r, ndim)
    ct_mean = -gamma_r * sum_ct
    ct_var = -0.5 * gamma_r * res.inv_std * sum_ct_x_hat
    ct_scale = None if res.scale is None else sum_ct_x_hat.astype(dtype)
    ct_bias = sum_ct.astype(dtype) if has_bias else None
    return ct_x.astype(dtype), ct_mean.astype(dtype), ct_var.astype(dtype), ct_scale, ct_bias


_batch_norm_inference.defvjp(_batch_norm_inference_fwd, _batch_norm_inference_bwd)


# --------------------------------------------------------------------------------- layer_norm


def _layer_axes(x: jax.Array, axis: Any) -> tuple[int, ...]:
    """``axis`` (an int or a tuple of ints) as sorted non-negative trailing axes of ``x``."""
    items = axis if isinstance(axis, tuple | list) else (axis,)
    if not items or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        raise TypeError(f"layer_norm: `axis` must be an int or a tuple of ints, got {axis!r}")
    if not all(-x.ndim <= a < x.ndim for a in items):
        raise ValueError(f"layer_norm: `axis` {axis!r} out of range for `x` of rank {x.ndim}")
    axes = tuple(sorted({a % x.ndim for a in items}))
    if len(axes) != len(items) or axes != tuple(range(x.ndim - len(axes), x.ndim)):
        raise ValueError(
            f"layer_norm: `axis` must name distinct trailing axes of `x` (rank {x.ndim}), "
            f"e.g. -1 or (-2, -1), got {axis!r}"
        )
    return axes


def layer_norm(
    x: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike | None,
    bias: jax.typing.ArrayLike | None,
    *,
    eps: float = 1e-5,
    axis: int | tuple[int, ...] = -1,
) -> jax.Array:
    """Layer normalisation over trailing axes, with an elementwise affine map on those axes.

    ``y = scale * (x - mean) / sqrt(var + eps) + bias``, statistics over ``axis`` of each
    leading index (``F.layer_norm(x, x.shape[-k:])``). With a single normalised element the
    variance is 0: ``x_hat = 0``, ``y = bias``, and the gradient wrt ``x`` is exactly zero.

    Args:
      x: floating array ``(..., D_1, ..., D_k)``, rank >= 1.
      scale: ``(D_1, ..., D_k)``, same dtype as ``x``, or None.
      bias: ``(D_1, ..., D_k)``, same dtype as ``x``, or None.
      eps: static float > 0 added to the variance.
      axis: static int or tuple of ints naming the k trailing axes, e.g. ``(-3, -2, -1)`` for
        ``(H, W, C)`` of NHWC.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals (:class:`_LayerNormRes`): ``x_hat`` (``x``'s shape and dtype), ``inv_std``
    (``x``'s leading shape, unit trailing axes) and ``scale``.

    Raises:
      ValueError: ``x`` of rank 0, ``axis`` not trailing, ``scale``/``bias`` of another shape,
        ``eps <= 0``.
      TypeError: non-floating arrays, mixed dtypes, non-int ``axis``, non-real ``eps``.

    >>> import jax.numpy as jnp
    >>> layer_norm(jnp.array([[1.0, 3.0]]), jnp.ones(2), None, eps=1e-12).round(6).tolist()
    [[-1.0, 1.0]]
    """
    x, scale, bias = as_float_arrays("layer_norm", ("x", "scale", "bias"), x, scale, bias)
    check_rank_at_least("layer_norm", x, 1, "(..., D)")
    axes = _layer_axes(x, axis)
    shape = x.shape[axes[0] :]
    for name, v in (("scale", scale), ("bias", bias)):
        check_param_shape("layer_norm", name, v, shape, f"to match x's axes {axes}")
    eps = check_eps("layer_norm", eps)
    return _layer_norm(x, scale, bias, eps, axes, bias is not None)


class _LayerNormRes(NamedTuple):
    x_hat: jax.Array  # x.shape, x's dtype: the normalised input
    inv_std: jax.Array  # keepdims statistics shape, accumulation dtype: 1 / sqrt(var + eps)
    scale: jax.Array | None  # x.shape[axes[0]:] or None


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _layer_norm(x, scale, bias, eps, axes, has_bias):
    return _layer_norm_fwd(x, scale, bias, eps, axes, has_bias)[0]


def _layer_norm_fwd(x, scale, bias, eps, axes, has_bias):
    x_hat, _, _, inv_std = standardize(x, axes, eps)
    y = _affine(x_hat, scale, bias)
    return y.astype(x.dtype), _LayerNormRes(x_hat.astype(x.dtype), inv_std, scale)


# _layer_norm_bwd :: (eps, axes, has_bias, residuals, ct_y) -> (ct_x, ct_scale, ct_bias)
def _layer_norm_bwd(eps: float, axes, has_bias: bool, res: _LayerNormRes, ct_y):
    r"""VJP of layer_norm.

    Per leading index, over the :math:`D` normalised elements :math:`k`:
    :math:`\hat x_k = (x_k-\mu) r`, :math:`r = (v+\epsilon)^{-1/2}`,
    :math:`y_k = \gamma_k \hat x_k + \beta_k`. Let :math:`\bar y` be ``ct_y``, :math:`\gamma`
    be ``res.scale`` (1 if None), :math:`\hat x` be ``res.x_hat`` and :math:`r` be
    ``res.inv_std``. The cotangent of :math:`\hat x` is :math:`\gamma_k \bar y_k`, and

    .. math::
        \frac{\partial L}{\partial x_k}
          = r\Big(\gamma_k\bar y_k - \frac1D\sum_j \gamma_j\bar y_j
              - \hat x_k\,\frac1D\sum_j \gamma_j\bar y_j \hat x_j\Big), \qquad
        \frac{\partial L}{\partial \gamma_k} = \sum_{\text{lead}} \bar y_k \hat x_k, \qquad
        \frac{\partial L}{\partial \beta_k} = \sum_{\text{lead}} \bar y_k

    (the first is :func:`cnnjax.ops._norm.standardize_grad_input`). The code computes
    ``ct_x_hat = scale * ct``, that function over ``axes``, and two sums over the leading axes.
    """
    dtype, acc = res.x_hat.dtype, res.inv_std.dtype
    lead = tuple(range(axes[0]))
    ct, x_hat = ct_y.astype(acc), res.x_hat.astype(acc)
    ct_x_hat = ct if res.scale is None else ct * expand(res.scale.astype(acc), ct.ndim)
    ct_x = standardize_grad_input(ct_x_hat, x_hat, res.inv_std, axes)
    ct_scale = None if res.scale is None else jnp.sum(ct * x_hat, axis=lead).astype(dtype)
    ct_bias = jnp.sum(ct, axis=lead).astype(dtype) if has_bias else None
    return ct_x.astype(dtype), ct_scale, ct_bias


_layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)
