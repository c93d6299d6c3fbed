"""Elementwise activations, each a ``jax.custom_vjp`` with a hand-derived VJP.

All activations map an array of any shape to one of the same shape and dtype; their VJPs
are elementwise products ``ct_x = ct_y * f'(x)``. What differs is the residual: piecewise
linear ops keep a boolean mask (1 byte/element) rather than ``x``; ops whose derivative is a
function of their output (sigmoid, tanh, elu's negative branch) keep the output.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from cnnjax.ops._util import check_float

__all__ = ["elu", "gelu", "leaky_relu", "relu", "sigmoid", "softplus", "tanh"]


# --------------------------------------------------------------------------------------- relu


@jax.custom_vjp
def relu(x: jax.Array) -> jax.Array:
    """Rectified linear unit, ``max(x, 0)``.

    Args:
      x: floating array, any shape.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: a boolean mask ``x > 0`` (1 byte per element), never ``x`` itself.

    >>> import jax.numpy as jnp
    >>> relu(jnp.array([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    check_float("relu", "x", x)
    return jnp.maximum(x, jnp.zeros((), x.dtype))


class _ReluRes(NamedTuple):
    positive: jax.Array  # bool, x.shape: where x > 0


def _relu_fwd(x):
    check_float("relu", "x", x)
    positive = x > 0
    return jnp.where(positive, x, jnp.zeros((), x.dtype)), _ReluRes(positive)


# _relu_bwd :: (residuals, ct_y) -> (ct_x,)
def _relu_bwd(res: _ReluRes, ct_y):
    r"""VJP of relu.

    .. math::
        y_i = \max(x_i, 0), \qquad
        \frac{\partial L}{\partial x_i} = \bar y_i \, [x_i > 0]

    with :math:`\bar y` bound to ``ct_y`` and :math:`[x_i > 0]` to ``res.positive``. Kink:
    relu'(0) = 0, as ``jax.nn.relu`` (``jnp.maximum`` would split a tie 0.5/0.5); a test pins
    it. The code is the masked select of ``ct_y``.
    """
    return (jnp.where(res.positive, ct_y, jnp.zeros((), ct_y.dtype)),)


relu.defvjp(_relu_fwd, _relu_bwd)


def leaky_relu(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('leaky_relu')


def elu(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('elu')


def sigmoid(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('sigmoid')


def tanh(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('tanh')


def gelu(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('gelu')


def softplus(*args, **kwargs):  # placeholder until the activation family lands
    raise NotImplementedError('softplus')
