"""Reference log-softmax and cross-entropy: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def log_softmax(logits: jax.Array, axis: int = -1) -> jax.Array:
    """``x - max - log(sum(exp(x - max)))`` along ``axis``; the shift carries no gradient."""
    acc = jnp.float32 if jnp.dtype(logits.dtype).itemsize < 4 else logits.dtype
    x = logits.astype(acc)
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    y = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    return y.astype(logits.dtype)


def softmax_cross_entropy(
    logits: jax.Array, labels: jax.Array, *, label_smoothing: float = 0.0
) -> jax.Array:
    """``-sum(target * log_softmax(logits), -1)`` with ``target = (1-eps) onehot + eps/K``.

    ``logits`` ``(..., K)``, integer ``labels`` ``logits.shape[:-1]``; out-of-range labels get
    an all-zero one-hot (``jax.nn.one_hot``'s behaviour).
    """
    acc = jnp.float32 if jnp.dtype(logits.dtype).itemsize < 4 else logits.dtype
    k = logits.shape[-1]
    logp = log_softmax(logits.astype(acc), axis=-1)
    target = (1.0 - label_smoothing) * jax.nn.one_hot(labels, k, dtype=acc)
    target = target + label_smoothing / k
    return (-jnp.sum(target * logp, axis=-1)).astype(logits.dtype)
