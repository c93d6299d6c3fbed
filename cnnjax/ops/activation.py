"""Piecewise activations (relu, leaky_relu, elu), each a ``jax.custom_vjp`` with a hand VJP.

All activations map an array of any shape to one of the same shape and dtype; their VJPs
are elementwise products ``ct_x = ct_y * f'(x)``. What differs is the residual: piecewise
linear ops keep a boolean mask (1 byte/element) rather than ``x``; elu, whose negative
branch's derivative is a function of its output, keeps the output. The smooth activations
(sigmoid, tanh, gelu, softplus) are in :mod:`cnnjax.ops.activation_smooth`.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.ops._util import check_float

__all__ = ["elu", "leaky_relu", "relu"]


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


# ------------------------------------------------------------------------- static config


def _real(value: Any, name: str, op: str) -> float:
    """Validate a static real-number hyperparameter and return it as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: `{name}` must be a real number (a Python float), got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{op}: `{name}` must be finite, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------- leaky_relu


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """Leaky ReLU, ``x`` for ``x > 0`` and ``negative_slope * x`` otherwise.

    Args:
      x: floating array, any shape.
      negative_slope: static real number, the slope for ``x <= 0``.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: a boolean mask ``x > 0`` (1 byte per element).

    >>> import jax.numpy as jnp
    >>> leaky_relu(jnp.array([-2.0, 0.0, 3.0]), 0.5).tolist()
    [-1.0, 0.0, 3.0]
    """
    check_float("leaky_relu", "x", x)
    return _leaky_relu(x, _real(negative_slope, "negative_slope", "leaky_relu"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _leaky_relu(x, negative_slope):
    return jnp.where(x > 0, x, negative_slope * x)


class _LeakyReluRes(NamedTuple):
    positive: jax.Array  # bool, x.shape: where x > 0


def _leaky_relu_fwd(x, negative_slope):
    positive = x > 0
    return jnp.where(positive, x, negative_slope * x), _LeakyReluRes(positive)


# _leaky_relu_bwd :: (negative_slope, residuals, ct_y) -> (ct_x,)
def _leaky_relu_bwd(negative_slope, res: _LeakyReluRes, ct_y):
    r"""VJP of leaky_relu.

    .. math::
        y_i = \begin{cases} x_i & x_i > 0 \\ a x_i & x_i \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial x_i} = \bar y_i \,(a + (1 - a)[x_i > 0])

    with :math:`\bar y` bound to ``ct_y``, :math:`a` to ``negative_slope`` and
    :math:`[x_i > 0]` to ``res.positive``. Kink: the derivative at exactly 0 is ``a`` (what
    autodiff of ``where(x > 0, x, a * x)`` gives); a test pins it. The code selects ``ct_y``
    or ``a * ct_y`` by the mask.
    """
    return (jnp.where(res.positive, ct_y, negative_slope * ct_y),)


_leaky_relu.defvjp(_leaky_relu_fwd, _leaky_relu_bwd)


# ---------------------------------------------------------------------------------------- elu


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit, ``x`` for ``x > 0`` and ``alpha * (exp(x) - 1)`` otherwise.

    Args:
      x: floating array, any shape.
      alpha: static real number ``> 0``, the negative saturation value.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: the output ``y`` only. With ``alpha > 0`` the sign of ``y`` is the sign of
    ``x`` (``y > 0`` exactly where ``x > 0``), so no mask is needed besides it.

    >>> import jax.numpy as jnp
    >>> elu(jnp.array([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    check_float("elu", "x", x)
    alpha = _real(alpha, "alpha", "elu")
    if alpha <= 0:
        raise ValueError(f"elu: `alpha` must be > 0, got {alpha!r}")
    return _elu(x, alpha)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _elu(x, alpha):
    return _elu_fwd(x, alpha)[0]


class _EluRes(NamedTuple):
    y: jax.Array  # x.dtype, x.shape: the output


def _elu_fwd(x, alpha):
    positive = x > 0
    # expm1 only of x <= 0 (0 elsewhere): no overflow, so no NaN in second-order autodiff.
    y = jnp.where(positive, x, alpha * jnp.expm1(jnp.where(positive, 0, x)))
    return y, _EluRes(y)


# _elu_bwd :: (alpha, residuals, ct_y) -> (ct_x,)
def _elu_bwd(alpha, res: _EluRes, ct_y):
    r"""VJP of elu.

    .. math::
        y_i = \begin{cases} x_i & x_i > 0 \\ \alpha (e^{x_i} - 1) & x_i \le 0 \end{cases},
        \qquad \frac{\partial y_i}{\partial x_i} =
        \begin{cases} 1 & x_i > 0 \\ \alpha e^{x_i} = y_i + \alpha & x_i \le 0 \end{cases}

    with :math:`y` bound to ``res.y``, :math:`\alpha` to ``alpha`` and :math:`\bar y` to
    ``ct_y``; since :math:`\alpha > 0`, :math:`x_i > 0 \iff y_i > 0`. At 0 the branches give
    1 and :math:`\alpha` (equal only for :math:`\alpha = 1`); the convention is the
    ``x <= 0`` branch, :math:`\alpha`, and a test pins it. The code is
    ``ct_y * where(y > 0, 1, y + alpha)``.
    """
    y = res.y
    return (ct_y * jnp.where(y > 0, jnp.ones((), y.dtype), y + alpha),)


_elu.defvjp(_elu_fwd, _elu_bwd)
