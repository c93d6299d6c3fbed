"""Activation layers: shape-preserving, parameter-free wrappers of the activation ops.

>>> import jax, jax.numpy as jnp
>>> y, state = Relu().apply({}, {}, jnp.array([[-1.0, 2.0]]))
>>> y.tolist(), state
([[0.0, 2.0]], {})
"""

from __future__ import annotations

from cnnjax import ops as default_ops
from cnnjax.nn.core import Layer, check_in_shape, check_input

__all__ = ["Elu", "Gelu", "LeakyRelu", "Relu", "Sigmoid", "Softplus", "Tanh"]


def _elementwise(kind: str, op_name: str, **op_kwargs) -> Layer:
    """A layer applying ``ops.<op_name>(x, **op_kwargs)``; named ``kind`` for messages."""

    def init(key, in_shape, *, dtype=None):
        return {}, {}, check_in_shape(kind, in_shape, None, "(d1, ...)")

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input(kind, x, None, "(N, d1, ...)")
        return getattr(ops, op_name)(x, **op_kwargs), state

    init.__qualname__ = f"{kind}.<locals>.init"  # so layer_name() reports the constructor
    apply.__qualname__ = f"{kind}.<locals>.apply"
    return Layer(init, apply)


def Relu() -> Layer:
    """``ops.relu``: ``max(x, 0)``."""
    return _elementwise("Relu", "relu")


def LeakyRelu(negative_slope: float = 0.01) -> Layer:
    """``ops.leaky_relu``: ``x`` if ``x > 0`` else ``negative_slope * x``."""
    return _elementwise("LeakyRelu", "leaky_relu", negative_slope=negative_slope)


def Elu(alpha: float = 1.0) -> Layer:
    """``ops.elu``: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return _elementwise("Elu", "elu", alpha=alpha)


def Sigmoid() -> Layer:
    """``ops.sigmoid``: ``1 / (1 + exp(-x))``."""
    return _elementwise("Sigmoid", "sigmoid")


def Tanh() -> Layer:
    """``ops.tanh``."""
    return _elementwise("Tanh", "tanh")


def Gelu(approximate: bool = True) -> Layer:
    """``ops.gelu`` (tanh approximation by default)."""
    return _elementwise("Gelu", "gelu", approximate=approximate)


def Softplus() -> Layer:
    """``ops.softplus``: ``log(1 + exp(x))``."""
    return _elementwise("Softplus", "softplus")
