"""Piecewise activations (relu, leaky_relu, elu, relu6, prelu), each a ``custom_vjp``.

All activations map an array of any shape to one of the same shape and dtype; their VJPs
are elementwise products ``ct_x = ct_y * f'(x)``. What differs is the residual: piecewise
linear ops keep a boolean mask (1 byte/element) rather than ``x`` (prelu keeps ``x``: its
slope's gradient needs it); elu keeps ``x`` (its
output loses the gradient's digits for very negative ``x``, see ``elu``). The smooth activations
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

from cnnjax.ops._arraylike import as_float_array
from cnnjax.ops._util import acc_dtype, check_same_dtype

__all__ = ["elu", "leaky_relu", "prelu", "relu", "relu6"]


# --------------------------------------------------------------------------------------- relu


def relu(x: jax.typing.ArrayLike) -> jax.Array:
    """Rectified linear unit, ``max(x, 0)``; a NaN propagates (``relu(nan)`` is NaN).

    Args:
      x: floating array (or array-like), any shape.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: a boolean mask ``not x <= 0`` (1 byte per element), never ``x`` itself.

    >>> import jax.numpy as jnp
    >>> relu(jnp.array([-1.0, 0.0, 2.0, jnp.nan])).tolist()
    [0.0, 0.0, 2.0, nan]
    """
    return _relu(as_float_array("relu", "x", x))


@jax.custom_vjp
def _relu(x):
    return _relu_fwd(x)[0]


class _ReluRes(NamedTuple):
    passes: jax.Array  # bool, x.shape: where not x <= 0 (x > 0 or NaN)


def _relu_fwd(x):
    passes = ~(x <= 0)  # NaN compares False, so it passes: the DESIGN's NaN rule
    return jnp.where(passes, x, jnp.zeros((), x.dtype)), _ReluRes(passes)


# _relu_bwd :: (residuals, ct_y) -> (ct_x,)
def _relu_bwd(res: _ReluRes, ct_y):
    r"""VJP of relu.

    .. math::
        y_i = \max(x_i, 0), \qquad
        \frac{\partial L}{\partial x_i} = \bar y_i \, [x_i > 0]

    with :math:`\bar y` bound to ``ct_y`` and :math:`[x_i > 0]` to ``res.passes``. Kink:
    relu'(0) = 0, as ``jax.nn.relu`` (``jnp.maximum`` would split a tie 0.5/0.5); a test pins
    it. NaN: the forward passes a NaN through as the ``x > 0`` branch does, and its cotangent
    passes with it (the DESIGN's rule: the NaN takes the gradient). The code is the masked
    select of ``ct_y``.
    """
    return (jnp.where(res.passes, ct_y, jnp.zeros((), ct_y.dtype)),)


_relu.defvjp(_relu_fwd, _relu_bwd)


# ------------------------------------------------------------------------- static config


def _real(value: Any, name: str, op: str) -> float:
    """Validate a static real-number hyperparameter and return it as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: `{name}` must be a real number (a Python float), got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{op}: `{name}` must be finite, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------- leaky_relu


def leaky_relu(x: jax.typing.ArrayLike, negative_slope: float = 0.01) -> jax.Array:
    """Leaky ReLU, ``x`` for ``x > 0`` and ``negative_slope * x`` otherwise.

    Args:
      x: floating array (or array-like), any shape.
      negative_slope: static real number, the slope for ``x <= 0``.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: a boolean mask ``x > 0`` (1 byte per element).

    >>> import jax.numpy as jnp
    >>> leaky_relu(jnp.array([-2.0, 0.0, 3.0]), 0.5).tolist()
    [-1.0, 0.0, 3.0]
    """
    x = as_float_array("leaky_relu", "x", x)
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


def elu(x: jax.typing.ArrayLike, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit, ``x`` for ``x > 0`` and ``alpha * (exp(x) - 1)`` otherwise.

    Args:
      x: floating array (or array-like), any shape.
      alpha: static real number ``> 0``, the negative saturation value.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: the input ``x`` (one array, as PyTorch keeps). The output ``y`` cannot serve:
    for ``x < -37.4`` float64's ``expm1(x)`` rounds to exactly ``-1``, so ``y = -alpha``
    carries nothing of the gradient ``alpha * exp(x)``, and ``y + alpha`` has relative error
    ``~1e-16 / exp(x)`` (``1e-4`` at ``x = -30``). From ``x`` the gradient is one ``exp``,
    exact to rounding at every ``x``.

    >>> import jax.numpy as jnp
    >>> elu(jnp.array([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    x = as_float_array("elu", "x", x)
    alpha = _real(alpha, "alpha", "elu")
    if alpha <= 0:
        raise ValueError(f"elu: `alpha` must be > 0, got {alpha!r}")
    return _elu(x, alpha)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _elu(x, alpha):
    return _elu_fwd(x, alpha)[0]


class _EluRes(NamedTuple):
    x: jax.Array  # x.dtype, x.shape: the input


def _negative_part(x):
    """``x`` where ``x <= 0``, else 0: so ``exp``/``expm1`` of it never overflow, and no NaN
    reaches second-order autodiff through the unused branch."""
    return jnp.where(x > 0, jnp.zeros((), x.dtype), x)


def _elu_fwd(x, alpha):
    y = jnp.where(x > 0, x, alpha * jnp.expm1(_negative_part(x)))
    return y, _EluRes(x)


# _elu_bwd :: (alpha, residuals, ct_y) -> (ct_x,)
def _elu_bwd(alpha, res: _EluRes, ct_y):
    r"""VJP of elu.

    .. math::
        y_i = \begin{cases} x_i & x_i > 0 \\ \alpha (e^{x_i} - 1) & x_i \le 0 \end{cases},
        \qquad \frac{\partial y_i}{\partial x_i} =
        \begin{cases} 1 & x_i > 0 \\ \alpha e^{x_i} & x_i \le 0 \end{cases}

    with :math:`x` bound to ``res.x``, :math:`\alpha` to ``alpha`` and :math:`\bar y` to
    ``ct_y``. :math:`\alpha e^{x}` equals :math:`y + \alpha`, but that sum cancels for
    :math:`y \approx -\alpha` (see ``elu``), so the code takes the exponential of ``x``
    itself. At 0 the branches give 1 and :math:`\alpha` (equal only for :math:`\alpha = 1`);
    the convention is the ``x <= 0`` branch, :math:`\alpha`, and a test pins it. The code is
    ``ct_y * where(x > 0, 1, alpha * exp(min(x, 0)))``.
    """
    x = res.x
    slope = jnp.where(x > 0, jnp.ones((), x.dtype), alpha * jnp.exp(_negative_part(x)))
    return (ct_y * slope,)


_elu.defvjp(_elu_fwd, _elu_bwd)


# -------------------------------------------------------------------------------------- relu6


def relu6(x: jax.typing.ArrayLike) -> jax.Array:
    """ReLU capped at 6, ``min(max(x, 0), 6)``, as ``F.relu6``; a NaN propagates.

    Args:
      x: floating array (or array-like), any shape.

    Returns:
      Array of ``x``'s shape and dtype, values in [0, 6].

    Residuals: a boolean mask ``0 < x < 6`` (1 byte per element).

    >>> import jax.numpy as jnp
    >>> relu6(jnp.array([-1.0, 3.0, 7.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return _relu6(as_float_array("relu6", "x", x))


@jax.custom_vjp
def _relu6(x):
    return _relu6_fwd(x)[0]


class _Relu6Res(NamedTuple):
    inside: jax.Array  # bool, x.shape: where neither x <= 0 nor x >= 6 (0 < x < 6 or NaN)


def _relu6_fwd(x):
    low, high = x <= 0, x >= 6
    y = jnp.where(low, jnp.zeros((), x.dtype), jnp.where(high, jnp.full((), 6, x.dtype), x))
    return y, _Relu6Res(~(low | high))


# _relu6_bwd :: (residuals, ct_y) -> (ct_x,)
def _relu6_bwd(res: _Relu6Res, ct_y):
    r"""VJP of relu6.

    .. math::
        y_i = \min(\max(x_i, 0), 6), \qquad
        \frac{\partial L}{\partial x_i} = \bar y_i \, [0 < x_i < 6]

    with :math:`\bar y` bound to ``ct_y`` and :math:`[0 < x_i < 6]` to ``res.inside``.
    Kinks: relu6'(0) = relu6'(6) = 0, as PyTorch's ``hardtanh_backward`` (strict
    inequalities); a test pins both. A NaN takes the identity branch and its cotangent. The
    code is the masked select of ``ct_y``.
    """
    return (jnp.where(res.inside, ct_y, jnp.zeros((), ct_y.dtype)),)


_relu6.defvjp(_relu6_fwd, _relu6_bwd)


# -------------------------------------------------------------------------------------- prelu


def prelu(x: jax.typing.ArrayLike, alpha: jax.typing.ArrayLike) -> jax.Array:
    """Parametric ReLU, ``x`` for ``x > 0`` and ``alpha * x`` otherwise, learnable ``alpha``.

    As ``F.prelu``, but the channel axis is the last (NHWC): ``alpha[c]`` scales channel
    ``c``; a one-element ``alpha`` is shared by every channel.

    Args:
      x: floating array ``(..., C)``, rank >= 1.
      alpha: floating array ``(C,)`` or ``(1,)``, same dtype as ``x``; differentiable.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: ``x`` (``dL/dalpha`` needs it) and ``alpha`` (C numbers); the mask ``x > 0``
    is recomputed from ``x`` rather than kept.

    Raises:
      ValueError: ``x`` of rank 0, ``alpha`` not ``(C,)`` or ``(1,)``.
      TypeError: non-floating arrays or mixed dtypes.

    >>> import jax.numpy as jnp
    >>> prelu(jnp.array([[-2.0, -2.0], [1.0, 1.0]]), jnp.array([0.5, 0.25])).tolist()
    [[-1.0, -0.5], [1.0, 1.0]]
    """
    x = as_float_array("prelu", "x", x)
    alpha = as_float_array("prelu", "alpha", alpha)
    if x.ndim < 1:
        raise ValueError(f"prelu: `x` must have rank >= 1 (..., C), got shape {x.shape}")
    if alpha.shape not in ((x.shape[-1],), (1,)):
        raise ValueError(
            f"prelu: `alpha` must have shape (C,)=({x.shape[-1]},) or (1,), got {alpha.shape}"
        )
    check_same_dtype("prelu", ("x", "alpha"), x, alpha)
    return _prelu(x, alpha)


def _channel_slope(alpha, ndim):
    """``alpha`` reshaped to broadcast over the last axis of a rank-``ndim`` array."""
    return alpha.reshape((1,) * (ndim - 1) + alpha.shape)


@jax.custom_vjp
def _prelu(x, alpha):
    return _prelu_fwd(x, alpha)[0]


class _PreluRes(NamedTuple):
    x: jax.Array  # (..., C): the input
    alpha: jax.Array  # (C,) or (1,): the slopes


def _prelu_fwd(x, alpha):
    y = jnp.where(x > 0, x, _channel_slope(alpha, x.ndim) * x)
    return y, _PreluRes(x, alpha)


# _prelu_bwd :: (residuals, ct_y) -> (ct_x, ct_alpha)
def _prelu_bwd(res: _PreluRes, ct_y):
    r"""VJP of prelu.

    .. math::
        y_{\cdot c} = \begin{cases} x_{\cdot c} & x_{\cdot c} > 0 \\
        a_c\, x_{\cdot c} & x_{\cdot c} \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial x_{\cdot c}} = \bar y_{\cdot c}
        \begin{cases} 1 & x_{\cdot c} > 0 \\ a_c & x_{\cdot c} \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial a_c} = \sum_{\cdot} \bar y_{\cdot c}\, x_{\cdot c}\,
        [x_{\cdot c} \le 0]

    with :math:`x` bound to ``res.x``, :math:`a` to ``res.alpha`` and :math:`\bar y` to
    ``ct_y``; :math:`\sum_\cdot` runs over every axis but the channel's, and over the channel
    too when ``alpha`` has one element. Kink: the ``x``-derivative at 0 is :math:`a_c` (as
    PyTorch); ``x = 0`` adds nothing to :math:`\partial L/\partial a`. The code zeroes
    ``ct_y`` where ``x > 0`` once (``ct_neg``), selects ``ct_y`` or ``alpha * ct_neg`` by
    ``x > 0``, and sums ``ct_neg * x`` (in float32 for low precision); at ``x = +inf`` that
    product is ``0 * inf = NaN``, as autodiff of the reference gives (PyTorch gives 0).
    """
    x, alpha = res.x, res.alpha
    positive = x > 0
    # One select read by both results: XLA:CPU writes ct_x over it, halving the temp memory.
    ct_neg = jnp.where(positive, jnp.zeros((), ct_y.dtype), ct_y)
    ct_x = jnp.where(positive, ct_y, _channel_slope(alpha, x.ndim) * ct_neg)
    acc = acc_dtype(x.dtype)
    # A product, not a second select: XLA:CPU fuses it into the sum's kernel.
    masked = ct_neg.astype(acc) * x.astype(acc)
    # One shared slope sums over everything, the channel included (also when C == 1).
    axes = None if alpha.shape[0] == 1 else tuple(range(x.ndim - 1))
    ct_alpha = jnp.sum(masked, axis=axes).reshape(alpha.shape)
    return ct_x, ct_alpha.astype(alpha.dtype)


_prelu.defvjp(_prelu_fwd, _prelu_bwd)
