"""Reference activations: plain ``jax.numpy`` / ``jax.nn``, differentiated by JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def relu(x: jax.Array) -> jax.Array:
    """``max(x, 0)`` written as a select, so its autodiff gives relu'(0) = 0.

    The select is on ``x <= 0``, so a NaN takes the ``x`` branch: it propagates, and its
    cotangent with it (the DESIGN's NaN rule).
    """
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros((), x.dtype), x)


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """``x`` if ``x > 0`` else ``negative_slope * x``; autodiff gives the slope at 0.

    (``jax.nn.leaky_relu`` selects on ``x >= 0`` and so gives 1 at 0; cnnjax's convention is
    the slope.)
    """
    return jnp.where(x > 0, x, negative_slope * x)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``, via ``jax.nn.elu``."""
    return jax.nn.elu(x, alpha)


def sigmoid(x: jax.Array) -> jax.Array:
    """``1 / (1 + exp(-x))`` via ``jax.nn.sigmoid`` (``lax.logistic``)."""
    return jax.nn.sigmoid(x)


def tanh(x: jax.Array) -> jax.Array:
    """``tanh(x)`` written as ``2 sigmoid(2x) - 1``, independent of ``jnp.tanh``'s rule."""
    return 2 * jax.nn.sigmoid(2 * x) - 1


def gelu(x: jax.Array, approximate: bool = True) -> jax.Array:
    """``jax.nn.gelu``: the tanh approximation or the exact erfc form."""
    return jax.nn.gelu(x, approximate=approximate)


def softplus(x: jax.Array) -> jax.Array:
    """``log(1 + exp(x))`` as ``logaddexp(x, 0)``."""
    return jnp.logaddexp(x, 0)


def relu6(x: jax.Array) -> jax.Array:
    """``min(max(x, 0), 6)`` as two selects on ``x <= 0`` and ``x >= 6``.

    Autodiff then gives 0 at both kinks (PyTorch's convention), and a NaN takes the ``x``
    branch and its cotangent.
    """
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros((), x.dtype), jnp.where(x >= 6, jnp.full((), 6, x.dtype), x))


def prelu(x: jax.Array, alpha: jax.Array) -> jax.Array:
    """``x`` if ``x > 0`` else ``alpha * x``, ``alpha`` (C,) or (1,) over the last axis."""
    x, alpha = jnp.asarray(x), jnp.asarray(alpha)
    a = jnp.broadcast_to(alpha, (x.shape[-1],)).reshape((1,) * (x.ndim - 1) + (-1,))
    return jnp.where(x > 0, x, a * x)


def silu(x: jax.Array) -> jax.Array:
    """``x * sigmoid(x)`` via ``jax.nn.sigmoid``."""
    return x * jax.nn.sigmoid(x)


def hardswish(x: jax.Array) -> jax.Array:
    """``x * relu6(x + 3) / 6`` with the gate as selects on ``x <= -3`` and ``x >= 3``.

    So autodiff gives PyTorch's kinks: the outer branches own ``x = -3`` (derivative 0) and
    ``x = 3`` (derivative 1).
    """
    x = jnp.asarray(x)
    zero = jnp.zeros((), x.dtype)
    return jnp.where(x <= -3, zero, jnp.where(x >= 3, x, x * (x + 3) / 6))
