"""Reference dropout: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax


def dropout(x: jax.Array, key, *, rate: float, deterministic: bool = False) -> jax.Array:
    """``x * mask / (1 - rate)`` with the very mask ``cnnjax.ops.dropout`` draws.

    The mask comes from the same call, ``jax.random.bernoulli(key, 1 - rate, x.shape)``, so
    forward values and VJPs are directly comparable. Identity when ``deterministic`` or
    ``rate == 0``.
    """
    if deterministic or rate == 0:
        return x
    keep = jax.random.bernoulli(key, 1 - rate, x.shape)
    return x * keep.astype(x.dtype) / (1 - rate)
