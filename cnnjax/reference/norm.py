"""Reference batch and layer normalisation: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _acc(dtype):
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else dtype


def batch_norm(
    x: jax.Array, scale: jax.Array, bias: jax.Array, *, eps: float = 1e-5
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode batch norm over all axes but the last: ``(y, batch_mean, batch_var)``.

    ``x`` ``(N, ..., C)``, ``scale`` and ``bias`` ``(C,)``; the variance is the biased one.
    """
    acc = _acc(x.dtype)
    xa = x.astype(acc)
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(xa, axis=axes)
    var = jnp.mean(jnp.square(xa - jnp.broadcast_to(mean, x.shape)), axis=axes)
    x_hat = (xa - jnp.broadcast_to(mean, x.shape)) / jnp.broadcast_to(jnp.sqrt(var + eps), x.shape)
    y = x_hat * jnp.broadcast_to(scale.astype(acc), x.shape)
    y = y + jnp.broadcast_to(bias.astype(acc), x.shape)
    return y.astype(x.dtype), mean.astype(x.dtype), var.astype(x.dtype)


def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, *, eps: float = 1e-5) -> jax.Array:
    """Layer norm over the last axis of ``x`` ``(..., D)``; ``scale`` and ``bias`` ``(D,)``."""
    xa = x.astype(_acc(x.dtype))
    mean = jnp.mean(xa, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(xa - mean), axis=-1, keepdims=True)
    x_hat = (xa - mean) / jnp.sqrt(var + eps)
    y = x_hat * jnp.broadcast_to(scale.astype(xa.dtype), x.shape)
    y = y + jnp.broadcast_to(bias.astype(xa.dtype), x.shape)
    return y.astype(x.dtype)
