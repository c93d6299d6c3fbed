"""Activation layers: shape-preserving, parameter-free wrappers of the activation ops.

>>> import jax, jax.numpy as jnp
>>> y, state = Relu().apply({}, {}, jnp.array([[-1.0, 2.0]]))
>>> y.tolist(), state
([[0.0, 2.0]], {})
"""

from __future__ import annotations

import jax.numpy as jnp

from cnnjax import ops as default_ops
from cnnjax.nn._op_layer import op_layer
from cnnjax.nn.core import (
    Layer,
    check_channels,
    check_in_shape,
    check_input,
    check_ops,
    default_dtype,
)

__all__ = [
    "Elu",
    "Gelu",
    "Hardswish",
    "LeakyRelu",
    "PRelu",
    "Relu",
    "Relu6",
    "Sigmoid",
    "Silu",
    "Softmax",
    "Softplus",
    "Tanh",
]


def _elementwise(kind: str, op_name: str, **op_kwargs) -> Layer:
    """A shape-preserving layer applying ``ops.<op_name>(x, **op_kwargs)``, named ``kind``."""
    return op_layer(kind, op_name, lambda shape, dtype: shape, **op_kwargs)


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


def Silu() -> Layer:
    """``ops.silu``: ``x * sigmoid(x)``."""
    return _elementwise("Silu", "silu")


def Relu6() -> Layer:
    """``ops.relu6``: ``min(max(x, 0), 6)``."""
    return _elementwise("Relu6", "relu6")


def Hardswish() -> Layer:
    """``ops.hardswish``: ``x * relu6(x + 3) / 6``."""
    return _elementwise("Hardswish", "hardswish")


def Softmax(axis: int = -1) -> Layer:
    """``ops.softmax`` over ``axis`` (of the batched input)."""
    return _elementwise("Softmax", "softmax", axis=axis)


def PRelu(num_parameters: int = 1, *, init: float = 0.25) -> Layer:
    """``ops.prelu`` with a learnable slope, PyTorch's ``nn.PReLU``.

    Params ``{"alpha": (1,)}`` shared by every channel, or ``(C,)`` one per channel of the
    last axis when ``num_parameters`` is ``C``; initialised to ``init``. Shape-preserving.

    >>> import jax
    >>> params, _, out_shape = PRelu(3).init(jax.random.key(0), (4, 4, 3))
    >>> params["alpha"].tolist(), out_shape
    ([0.25, 0.25, 0.25], (4, 4, 3))
    """
    if not isinstance(num_parameters, int) or isinstance(num_parameters, bool):
        raise TypeError(f"PRelu: `num_parameters` must be an int, got {num_parameters!r}")
    if num_parameters < 1:
        raise ValueError(f"PRelu: `num_parameters` must be >= 1, got {num_parameters}")
    slope = init

    def init_fn(key, in_shape, *, dtype=None):
        shape = check_in_shape("PRelu", in_shape, None, "(..., C)")
        if num_parameters not in (1, shape[-1]):
            raise ValueError(
                f"PRelu: `num_parameters`={num_parameters} must be 1 or the channel count "
                f"C={shape[-1]}"
            )
        return {"alpha": jnp.full((num_parameters,), slope, default_dtype(dtype))}, {}, shape

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("PRelu", ops)
        check_input("PRelu", x, None, "(N, ..., C)")
        if params["alpha"].shape[0] != 1:
            check_channels("PRelu", x, params["alpha"].shape[0], "C")
        return ops.prelu(x, params["alpha"]), state

    init_fn.__qualname__ = "PRelu.<locals>.init"
    return Layer(init_fn, apply)
