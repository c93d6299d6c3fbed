"""Reference dense layer: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def dense(x: jax.Array, w: jax.Array, b: jax.Array | None = None) -> jax.Array:
    """``x @ w + b`` over the last axis: ``x`` ``(..., In)``, ``w`` ``(In, Out)``, ``b`` ``(Out,)``.

    Low-precision inputs accumulate in float32 and are cast back, as ``cnnjax.ops.dense``.
    """
    acc = jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype
    y = jnp.einsum("...i,io->...o", x.astype(acc), w.astype(acc))
    if b is not None:
        y = y + jnp.broadcast_to(b.astype(acc), y.shape)
    return y.astype(x.dtype)
