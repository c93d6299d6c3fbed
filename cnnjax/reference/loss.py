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


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``; the shift carries no gradient."""
    x = jnp.asarray(x)
    acc = jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype
    e = jnp.exp(x.astype(acc) - jax.lax.stop_gradient(jnp.max(x.astype(acc), axis, keepdims=True)))
    return (e / jnp.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


def softmax_cross_entropy(
    logits: jax.Array,
    labels: jax.Array,
    *,
    label_smoothing: float = 0.0,
    weight: jax.Array | None = None,
    ignore_index: int | None = None,
) -> jax.Array:
    """PyTorch's per-example ``cross_entropy(reduction="none")``, term by term.

    Integer labels: ``(1 - eps) * nll + eps / K * smooth`` with ``nll = -w[y] logp[y]`` and
    ``smooth = -sum_k w_k logp_k``, both 0 where ``labels == ignore_index``; out-of-range
    labels get an all-zero one-hot (``jax.nn.one_hot``). Probability labels:
    ``-sum_k w_k ((1 - eps) t_k + eps / K) logp_k``.
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    acc = jnp.float32 if jnp.dtype(logits.dtype).itemsize < 4 else logits.dtype
    k = logits.shape[-1]
    logp = log_softmax(logits.astype(acc), axis=-1)
    w = jnp.ones((k,), acc) if weight is None else jnp.asarray(weight).astype(acc)
    w = w.reshape((1,) * (logp.ndim - 1) + (k,))
    eps = label_smoothing
    if jnp.issubdtype(labels.dtype, jnp.floating):
        target = (1.0 - eps) * labels.astype(acc) + eps / k
        return (-jnp.sum(w * target * logp, axis=-1)).astype(logits.dtype)
    nll = -jnp.sum(w * jax.nn.one_hot(labels, k, dtype=acc) * logp, axis=-1)
    smooth = -jnp.sum(w * logp, axis=-1)
    loss = (1.0 - eps) * nll + (eps / k) * smooth
    if ignore_index is not None:
        loss = jnp.where(labels == ignore_index, jnp.zeros((), acc), loss)
    return loss.astype(logits.dtype)


def mse_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """``mean((pred - target) ** 2)`` over every axis but the first."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    acc = jnp.float32 if jnp.dtype(pred.dtype).itemsize < 4 else pred.dtype
    sq = jnp.square(pred.astype(acc) - target.astype(acc))
    return jnp.mean(sq, axis=tuple(range(1, pred.ndim))).astype(pred.dtype)
