"""Reference normalisations: plain ``jax.numpy``, differentiated by JAX.

Same signatures as ``cnnjax.ops``. Each computes its statistics with ``jnp.mean``/``jnp.var``
in the most direct layout (group norm by reshaping to ``(N, ..., G, C/G)``), and broadcasts
explicitly (the tests forbid rank promotion).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _acc(dtype):
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else dtype


def _affine(x_hat, scale, bias, shape):
    """``x_hat * scale + bias`` with the parameters broadcast to ``shape`` (None skips)."""
    y = x_hat
    if scale is not None:
        y = y * jnp.broadcast_to(jnp.asarray(scale).astype(x_hat.dtype), shape)
    if bias is not None:
        y = y + jnp.broadcast_to(jnp.asarray(bias).astype(x_hat.dtype), shape)
    return y


def batch_norm(x, scale, bias, *, eps: float = 1e-5) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode batch norm over all axes but the last: ``(y, batch_mean, batch_var)``.

    ``x`` ``(N, ..., C)``, ``scale`` and ``bias`` ``(C,)`` or None; the variance is the biased one.
    """
    x = jnp.asarray(x)
    xa = x.astype(_acc(x.dtype))
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(xa, axis=axes)
    var = jnp.mean(jnp.square(xa - jnp.broadcast_to(mean, x.shape)), axis=axes)
    x_hat = (xa - jnp.broadcast_to(mean, x.shape)) / jnp.broadcast_to(jnp.sqrt(var + eps), x.shape)
    y = _affine(x_hat, scale, bias, x.shape)
    return y.astype(x.dtype), mean.astype(x.dtype), var.astype(x.dtype)


def batch_norm_inference(x, mean, var, scale, bias, *, eps: float = 1e-5) -> jax.Array:
    """Eval-mode batch norm with the given per-channel ``mean`` and ``var`` ``(C,)``."""
    x = jnp.asarray(x)
    acc = _acc(x.dtype)
    centred = x.astype(acc) - jnp.broadcast_to(jnp.asarray(mean).astype(acc), x.shape)
    std = jnp.broadcast_to(jnp.sqrt(jnp.asarray(var).astype(acc) + eps), x.shape)
    return _affine(centred / std, scale, bias, x.shape).astype(x.dtype)


def layer_norm(x, scale, bias, *, eps: float = 1e-5, axis=-1) -> jax.Array:
    """Layer norm over the trailing ``axis`` (int or tuple); ``scale``/``bias`` shaped like them."""
    x = jnp.asarray(x)
    axes = tuple(a % x.ndim for a in (axis if isinstance(axis, tuple | list) else (axis,)))
    xa = x.astype(_acc(x.dtype))
    mean = jnp.mean(xa, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(xa - mean), axis=axes, keepdims=True)
    x_hat = (xa - mean) / jnp.sqrt(var + eps)
    return _affine(x_hat, scale, bias, x.shape).astype(x.dtype)


def group_norm(x, scale, bias, *, num_groups: int, eps: float = 1e-5) -> jax.Array:
    """Group norm of ``x`` ``(N, ..., C)``: per example, over ``(..., C/G)`` of each group."""
    x = jnp.asarray(x)
    c = x.shape[-1]
    xg = x.astype(_acc(x.dtype)).reshape(x.shape[:-1] + (num_groups, c // num_groups))
    axes = (*range(1, xg.ndim - 2), xg.ndim - 1)
    mean = jnp.mean(xg, axis=axes, keepdims=True)
    var = jnp.var(xg, axis=axes, keepdims=True)
    x_hat = ((xg - mean) / jnp.sqrt(var + eps)).reshape(x.shape)
    return _affine(x_hat, scale, bias, x.shape).astype(x.dtype)


def instance_norm(x, scale, bias, *, eps: float = 1e-5) -> jax.Array:
    """Instance norm: each example's channel over the spatial axes of ``x`` ``(N, ..., C)``."""
    x = jnp.asarray(x)
    xa = x.astype(_acc(x.dtype))
    axes = tuple(range(1, x.ndim - 1))
    mean = jnp.mean(xa, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(xa - mean), axis=axes, keepdims=True)
    return _affine((xa - mean) / jnp.sqrt(var + eps), scale, bias, x.shape).astype(x.dtype)
