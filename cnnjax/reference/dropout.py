"""Reference dropout: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def dropout(
    x: jax.Array, key, *, rate: float, deterministic: bool = False, broadcast_dims=()
) -> jax.Array:
    """``x * mask / (1 - rate)`` with the very mask ``cnnjax.ops.dropout`` draws.

    The mask comes from the same call, ``jax.random.bernoulli(key, 1 - rate, shape)`` with
    ``shape`` ``x.shape`` and 1 on ``broadcast_dims``, so forward values and VJPs are
    directly comparable. Identity when ``deterministic`` or ``rate == 0``.
    """
    if deterministic or rate == 0:
        return x
    x = jnp.asarray(x)
    dims = {
        d % x.ndim
        for d in ((broadcast_dims,) if isinstance(broadcast_dims, int) else broadcast_dims)
    }
    shape = tuple(1 if a in dims else n for a, n in enumerate(x.shape))
    keep = jax.random.bernoulli(key, 1 - rate, shape)
    return x * jnp.broadcast_to(keep, x.shape).astype(x.dtype) / (1 - rate)
