"""Group and instance normalisation (per-example statistics), a ``jax.custom_vjp`` with a hand VJP.

Channels-last: ``x`` is ``(N, ..., C)``. Group norm splits the channels into ``num_groups``
contiguous groups (PyTorch's order) and normalises each example's group over every non-batch
axis; instance norm is the special case of one channel per group. Residuals are the normalised
input :math:`\\hat x` (in the input's dtype) and :math:`1/\\sigma` ``(N, G)``; statistics and the
backward sums run in float32 for bfloat16/float16 inputs.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

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

__all__ = ["group_norm", "instance_norm"]


def group_norm(
    x: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike | None,
    bias: jax.typing.ArrayLike | None,
    *,
    num_groups: int,
    eps: float = 1e-5,
) -> jax.Array:
    """Group normalisation: per example, over all non-batch axes and C/G channels per group.

    ``y = scale * (x - mean) / sqrt(var + eps) + bias`` with ``mean`` and the biased ``var``
    of each ``(example, group)``, over ``D = prod(x.shape[1:-1]) * C / num_groups`` elements;
    ``scale``/``bias`` are per channel. Equals ``F.group_norm`` on the NCHW transpose.

    Args:
      x: floating array ``(N, ..., C)``, rank >= 2, with ``prod(x.shape[1:]) > 0``.
      scale: ``(C,)``, same dtype as ``x``, or None.
      bias: ``(C,)``, same dtype as ``x``, or None.
      num_groups: static int ``G >= 1`` dividing ``C``; group ``g`` holds channels
        ``[g * C/G, (g + 1) * C/G)``.
      eps: static float > 0 added to the variance.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals (:class:`_GroupNormRes`): ``x_hat`` and ``inv_std`` in the grouped layout
    ``(N, ..., G, C/G)``, or ``(N, ..., C)`` when ``G = C`` (``inv_std`` with unit axes but N
    and G), and ``scale``.

    Raises:
      ValueError: ``x`` of rank < 2 or with no element per example, ``num_groups`` < 1 or not
        dividing C, ``scale``/``bias`` not ``(C,)``, ``eps <= 0``.
      TypeError: non-floating arrays, mixed dtypes, non-int ``num_groups``, non-real ``eps``.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1.0, 3.0, 10.0, 30.0]])
    >>> group_norm(x, None, None, num_groups=2, eps=1e-12).round(6).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    return _checked_group_norm("group_norm", x, scale, bias, num_groups, eps, 2)


def instance_norm(
    x: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike | None,
    bias: jax.typing.ArrayLike | None,
    *,
    eps: float = 1e-5,
) -> jax.Array:
    """Instance normalisation: :func:`group_norm` with one channel per group (``G = C``).

    Each example's channel is normalised over the spatial axes (``F.instance_norm`` without
    running statistics).

    Args:
      x: floating array ``(N, ..., C)`` with at least one spatial axis (rank >= 3).
      scale: ``(C,)`` or None.
      bias: ``(C,)`` or None.
      eps: static float > 0 added to the variance.

    Returns:
      Array of ``x``'s shape and dtype.

    Raises:
      ValueError, TypeError: as :func:`group_norm`, and for ``x`` of rank < 3.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[[1.0, 5.0], [3.0, 7.0]]])  # (N=1, L=2, C=2)
    >>> instance_norm(x, None, None, eps=1e-12).round(6).tolist()
    [[[-1.0, -1.0], [1.0, 1.0]]]
    """
    c = jnp.shape(x)[-1] if jnp.ndim(x) >= 3 else 1
    return _checked_group_norm("instance_norm", x, scale, bias, c, eps, 3)


def _checked_group_norm(op, x, scale, bias, num_groups, eps, min_rank):
    x, scale, bias = as_float_arrays(op, ("x", "scale", "bias"), x, scale, bias)
    check_rank_at_least(op, x, min_rank, "(N, ..., C)")
    c = x.shape[-1]
    if not isinstance(num_groups, int) or isinstance(num_groups, bool):
        raise TypeError(f"{op}: `num_groups` must be an int, got {num_groups!r}")
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"{op}: `num_groups` must be >= 1 and divide C={c}, got {num_groups}")
    if x.size == 0 and x.shape[0] > 0:
        raise ValueError(f"{op}: `x` must have at least one element per example, got {x.shape}")
    for name, v in (("scale", scale), ("bias", bias)):
        check_param_shape(op, name, v, (c,), "to match x's last axis")
    return _group_norm(x, scale, bias, num_groups, check_eps(op, eps), bias is not None)


def _grouped(v: jax.Array, num_groups: int) -> jax.Array:
    """``(..., C)`` reshaped to ``(..., G, C/G)``; kept as ``(..., C)`` when ``G = C``.

    One channel per group keeps the plain layout: a reduction over a trailing unit axis runs
    about 5x slower on XLA:CPU (docs/performance.md, "Round-2 ops").
    """
    if num_groups == v.shape[-1]:
        return v
    return v.reshape(v.shape[:-1] + (num_groups, v.shape[-1] // num_groups))


def _stat_axes(ndim_grouped: int, per_channel: bool) -> tuple[int, ...]:
    """Axes of the grouped layout a statistic averages: all but N and G (or C).

    ``(N, ..., G, C/G)`` averages ``(..., C/G)``; the ``per_channel`` layout ``(N, ..., C)``
    of :func:`_grouped` with ``G = C`` averages ``(...)``.
    """
    if per_channel:
        return tuple(range(1, ndim_grouped - 1))
    return (*range(1, ndim_grouped - 2), ndim_grouped - 1)


class _GroupNormRes(NamedTuple):
    x_hat: jax.Array  # (N, ..., G, C/G), or (N, ..., C) if G = C; x's dtype: the normalised input
    inv_std: jax.Array  # (N, 1, ..., G, 1), or (N, 1, ..., C); accumulation dtype: 1/sqrt(var+eps)
    scale: jax.Array | None  # (C,) or None


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _group_norm(x, scale, bias, num_groups, eps, has_bias):
    return _group_norm_fwd(x, scale, bias, num_groups, eps, has_bias)[0]


def _group_norm_fwd(x, scale, bias, num_groups, eps, has_bias):
    xg = _grouped(x, num_groups)
    x_hat, _, _, inv_std = standardize(xg, _stat_axes(xg.ndim, xg.ndim == x.ndim), eps)
    y = x_hat
    if scale is not None:
        y = y * expand(_grouped(scale.astype(y.dtype), num_groups), y.ndim)
    if bias is not None:
        y = y + expand(_grouped(bias.astype(y.dtype), num_groups), y.ndim)
    return y.reshape(x.shape).astype(x.dtype), _GroupNormRes(x_hat.astype(x.dtype), inv_std, scale)


# _group_norm_bwd :: (num_groups, eps, has_bias, residuals, ct_y) -> (ct_x, ct_scale, ct_bias)
def _group_norm_bwd(num_groups: int, eps: float, has_bias: bool, res: _GroupNormRes, ct_y):
    r"""VJP of group_norm.

    In the grouped layout, per example :math:`n` and group :math:`g`, over its :math:`D`
    elements :math:`k` (every non-batch position and the group's channels):
    :math:`\hat x_k = (x_k - \mu) r`, :math:`r = (v+\epsilon)^{-1/2}`,
    :math:`y_k = \gamma_{c(k)} \hat x_k + \beta_{c(k)}`. Let :math:`\bar y` be ``ct_y``,
    :math:`\gamma` be ``res.scale`` (1 if None), :math:`\hat x` be ``res.x_hat`` and :math:`r`
    be ``res.inv_std``. The cotangent of :math:`\hat x` is :math:`\gamma_{c(k)}\bar y_k`, so

    .. math::
        \frac{\partial L}{\partial x_k}
          = r\Big(\gamma_{c(k)}\bar y_k - \frac1D\sum_j \gamma_{c(j)}\bar y_j
              - \hat x_k\,\frac1D\sum_j \gamma_{c(j)}\bar y_j \hat x_j\Big), \quad
        \frac{\partial L}{\partial \gamma_c} = \sum_{k:\,c(k)=c} \bar y_k \hat x_k, \quad
        \frac{\partial L}{\partial \beta_c} = \sum_{k:\,c(k)=c} \bar y_k

    (the first is :func:`cnnjax.ops._norm.standardize_grad_input` over the statistics' axes).
    The code forms ``ct_x_hat = scale * ct`` in the grouped layout, applies that function and
    reshapes back (with ``G = C`` the layout is ``(N, ..., C)`` itself); the parameter sums
    run over every axis but the channel's.
    """
    dtype, acc = res.x_hat.dtype, res.inv_std.dtype
    ndim = res.x_hat.ndim
    ct, x_hat = _grouped(ct_y.astype(acc), num_groups), res.x_hat.astype(acc)
    ct_x_hat = ct
    if res.scale is not None:
        ct_x_hat = ct * expand(_grouped(res.scale.astype(acc), num_groups), ndim)
    plain = ndim == ct_y.ndim  # G = C: the (N, ..., C) layout
    ct_x = standardize_grad_input(ct_x_hat, x_hat, res.inv_std, _stat_axes(ndim, plain))
    per_channel = tuple(range(ndim - 1 if plain else ndim - 2))
    ct_scale = None
    if res.scale is not None:
        ct_scale = jnp.sum(ct * x_hat, axis=per_channel).reshape(-1).astype(dtype)
    ct_bias = jnp.sum(ct, axis=per_channel).reshape(-1).astype(dtype) if has_bias else None
    return ct_x.reshape(ct_y.shape).astype(dtype), ct_scale, ct_bias


_group_norm.defvjp(_group_norm_fwd, _group_norm_bwd)
