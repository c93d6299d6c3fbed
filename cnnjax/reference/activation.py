"""Reference activations: plain ``jax.numpy``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def relu(x: jax.Array) -> jax.Array:
    """``max(x, 0)`` written as a select, so its autodiff gives relu'(0) = 0."""
    return jnp.where(x > 0, x, jnp.zeros((), x.dtype))
def leaky_relu(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('leaky_relu')

def elu(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('elu')

def sigmoid(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('sigmoid')

def tanh(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('tanh')

def gelu(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('gelu')

def softplus(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('softplus')

