"""Reference shape ops: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def flatten(x: jax.Array) -> jax.Array:
    """``(N, ...) -> (N, prod(...))`` (``(N,) -> (N, 1)``), via ``jnp.reshape(x, (N, -1))``."""
    if x.ndim == 1:
        return x[:, None]
    return jnp.reshape(x, (x.shape[0], -1))
