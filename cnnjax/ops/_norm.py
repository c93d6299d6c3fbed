"""Private helpers shared by the normalisation ops: validation and the standardisation core.

Every normalisation here is :math:`\\hat x = (x - \\mu) r` with :math:`r = (v + \\epsilon)^{-1/2}`
over some axes, followed by an optional affine map. :func:`standardize` is that forward and
:func:`standardize_grad_input` its VJP (derived in its docstring), so layer, group and instance
norm differ only in which axes they reduce and how ``scale``/``bias`` broadcast.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp

from cnnjax.ops._util import acc_dtype, check_float, check_same_dtype


def check_eps(op: str, eps: Any) -> float:
    """Return ``eps`` as a float, or raise unless it is a real number > 0."""
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        raise TypeError(f"{op}: `eps` must be a float, got {eps!r}")
    if not eps > 0:
        raise ValueError(f"{op}: `eps` must be > 0, got {eps!r}")
    return float(eps)


def as_float_arrays(op: str, names: tuple[str, ...], *arrays: Any) -> tuple[Any, ...]:
    """``jnp.asarray`` every non-None argument, check each is floating and all share a dtype."""
    out = tuple(None if a is None else jnp.asarray(a) for a in arrays)
    for name, a in zip(names, out, strict=True):
        if a is not None:
            check_float(op, name, a)
    check_same_dtype(op, names, *out)
    return out


def check_rank_at_least(op: str, x: jax.Array, min_rank: int, layout: str) -> None:
    """Raise unless ``x`` has rank ``>= min_rank`` (``layout`` names the axes)."""
    if x.ndim < min_rank:
        raise ValueError(f"{op}: `x` must have rank >= {min_rank} {layout}, got shape {x.shape}")


def check_param_shape(op: str, name: str, v: Any, shape: tuple[int, ...], what: str) -> None:
    """Raise unless the optional parameter ``v`` is None or has ``shape``."""
    if v is not None and v.shape != shape:
        raise ValueError(f"{op}: `{name}` must be None or have shape {shape} {what}, got {v.shape}")


def expand(v: jax.Array, ndim: int) -> jax.Array:
    """``v`` with leading unit axes, to broadcast against the trailing axes of rank ``ndim``."""
    return v.reshape((1,) * (ndim - v.ndim) + v.shape)


def standardize(x: jax.Array, axes: tuple[int, ...], eps: float):
    """``(x_hat, mean, var, inv_std)`` over ``axes`` (keepdims), all in ``acc_dtype(x)``."""
    xa = x.astype(acc_dtype(x.dtype))
    mean = jnp.mean(xa, axis=axes, keepdims=True)
    centred = xa - mean
    var = jnp.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = jax.lax.rsqrt(var + eps)
    return centred * inv_std, mean, var, inv_std


def standardize_grad_input(
    ct_x_hat: jax.Array, x_hat: jax.Array, inv_std: jax.Array, axes: tuple[int, ...]
) -> jax.Array:
    r"""∂L/∂x of :math:`\hat x = (x - \mu) r` given ∂L/∂x̂, statistics over ``axes``.

    Let :math:`\bar{\hat x}` be ``ct_x_hat``, :math:`\hat x` be ``x_hat`` and :math:`r` be
    ``inv_std``, and :math:`D` the number of elements each statistic averages. With
    :math:`\partial\mu/\partial x_i = 1/D` and
    :math:`\partial r/\partial x_i = -r^3 (x_i - \mu)/D = -r^2 \hat x_i / D`,

    .. math::
        \frac{\partial L}{\partial x_i}
          = r\Big(\bar{\hat x}_i - \frac1D\sum_j \bar{\hat x}_j
              - \hat x_i\,\frac1D\sum_j \bar{\hat x}_j \hat x_j\Big).

    The code is that formula, with the two means over ``axes`` (keepdims).
    """
    mean_ct = jnp.mean(ct_x_hat, axis=axes, keepdims=True)
    mean_ct_x_hat = jnp.mean(ct_x_hat * x_hat, axis=axes, keepdims=True)
    return inv_std * (ct_x_hat - mean_ct - x_hat * mean_ct_x_hat)
