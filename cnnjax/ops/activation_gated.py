"""Self-gated activations (silu, hardswish), each a ``jax.custom_vjp`` with a hand VJP.

Both are ``x * gate(x)``; their derivative needs ``x`` itself, so ``x`` is the one residual
(the output cannot give ``x`` back: neither op is monotone for ``x < 0``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._arraylike import as_float_array

__all__ = ["hardswish", "silu"]


# --------------------------------------------------------------------------------------- silu


def silu(x: jax.typing.ArrayLike) -> jax.Array:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``, as ``F.silu``.

    Args:
      x: floating array (or array-like), any shape.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: ``x`` only. The bwd recomputes ``sigmoid(x)``, one elementwise logistic fused
    into the bwd's multiply; keeping it too would double the residual memory.

    >>> import jax.numpy as jnp
    >>> silu(jnp.array([0.0, 1000.0, -1000.0])).tolist()
    [0.0, 1000.0, -0.0]
    """
    return _silu(as_float_array("silu", "x", x))


@jax.custom_vjp
def _silu(x):
    return _silu_fwd(x)[0]


class _SiluRes(NamedTuple):
    x: jax.Array  # x.dtype, x.shape: the input


def _silu_fwd(x):
    return x * lax.logistic(x), _SiluRes(x)


# _silu_bwd :: (residuals, ct_y) -> (ct_x,)
def _silu_bwd(res: _SiluRes, ct_y):
    r"""VJP of silu.

    .. math::
        y_i = x_i\, \sigma(x_i), \qquad
        \frac{\partial y_i}{\partial x_i} = \sigma(x_i) + x_i\, \sigma(x_i)(1 - \sigma(x_i))
        = \sigma(x_i)\,\bigl(1 + x_i (1 - \sigma(x_i))\bigr)

    with :math:`x` bound to ``res.x`` and :math:`\bar y` to ``ct_y``. For :math:`x \to
    -\infty`, :math:`\sigma \to 0` and the product is 0 (no ``inf * 0``: :math:`1 - \sigma`
    stays in [0, 1]). The code is ``ct_y * (s * (1 + x * (1 - s)))`` with ``s =
    logistic(x)``.
    """
    x = res.x
    s = lax.logistic(x)
    return (ct_y * (s * (1 + x * (1 - s))),)


_silu.defvjp(_silu_fwd, _silu_bwd)


# ---------------------------------------------------------------------------------- hardswish


def hardswish(x: jax.typing.ArrayLike) -> jax.Array:
    """Hard swish, ``x * relu6(x + 3) / 6``, as ``F.hardswish``.

    ``0`` for ``x <= -3``, ``x`` for ``x >= 3``, ``x (x + 3) / 6`` between.

    Args:
      x: floating array (or array-like), any shape.

    Returns:
      Array of ``x``'s shape and dtype.

    Residuals: ``x`` (the derivative ``x / 3 + 1/2`` between the kinks is linear in it).

    >>> import jax.numpy as jnp
    >>> hardswish(jnp.array([-4.0, 0.0, 1.5, 4.0])).tolist()
    [-0.0, 0.0, 1.125, 4.0]
    """
    return _hardswish(as_float_array("hardswish", "x", x))


@jax.custom_vjp
def _hardswish(x):
    return _hardswish_fwd(x)[0]


class _HardswishRes(NamedTuple):
    x: jax.Array  # x.dtype, x.shape: the input


def _hardswish_fwd(x):
    # The branch form, not ``x * clip(x + 3, 0, 6) / 6``: XLA:CPU fuses it into one pass that
    # writes y, where the product form leaves the clamp for a consumer to re-read
    # (docs/performance.md, "Round-2 ops").
    # ``x * 0`` on the left keeps PyTorch's -0.0 (and NaN at -inf) there.
    zero = jnp.zeros((), x.dtype)
    y = jnp.where(x <= -3, x * zero, jnp.where(x >= 3, x, x * (x + 3) / 6))
    return y, _HardswishRes(x)


# _hardswish_bwd :: (residuals, ct_y) -> (ct_x,)
def _hardswish_bwd(res: _HardswishRes, ct_y):
    r"""VJP of hardswish.

    .. math::
        y_i = \begin{cases} 0 & x_i \le -3 \\ x_i (x_i + 3) / 6 & -3 < x_i < 3 \\
        x_i & x_i \ge 3 \end{cases}, \qquad
        \frac{\partial y_i}{\partial x_i} = \begin{cases} 0 & x_i \le -3 \\
        x_i / 3 + 1/2 & -3 < x_i < 3 \\ 1 & x_i \ge 3 \end{cases}

    with :math:`x` bound to ``res.x`` and :math:`\bar y` to ``ct_y``. Kinks as PyTorch's
    ``hardswish_backward`` (checked against torch 2.13): the outer branches own both ends, so
    the derivative is 0 at :math:`x = -3` and 1 at :math:`x = 3`; a test pins both. The
    code selects ``0``, ``x / 3 + 0.5`` or ``1`` by ``x <= -3`` and ``x >= 3`` and multiplies.
    """
    x = res.x
    zero, one = jnp.zeros((), x.dtype), jnp.ones((), x.dtype)
    slope = jnp.where(x <= -3, zero, jnp.where(x >= 3, one, x / 3 + 0.5))
    return (ct_y * slope,)


_hardswish.defvjp(_hardswish_fwd, _hardswish_bwd)
