"""Shape ops: ``flatten`` as a ``jax.custom_vjp`` that keeps no array residual."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from cnnjax.ops._arraylike import as_array
from cnnjax.ops._util import check_float

__all__ = ["flatten"]


def flatten(x: jax.typing.ArrayLike) -> jax.Array:
    """Flatten all axes but the first: ``(N, d1, ..., dk) -> (N, d1 * ... * dk)``.

    A rank-1 ``x`` of shape ``(N,)`` is taken as N examples of no feature axes and becomes
    ``(N, 1)`` (the empty product is 1), as Keras' ``Flatten`` does; rank 0 is an error.

    Args:
      x: floating array of shape ``(N, ...)``, rank >= 1.

    Returns:
      Array of shape ``(N, prod(x.shape[1:]))`` and ``x``'s dtype, in row-major order.

    Raises:
      ValueError: ``x`` has rank 0.
      TypeError: ``x`` is not floating.

    Residuals: none but the static input shape.

    >>> import jax.numpy as jnp
    >>> flatten(jnp.zeros((2, 3, 4, 5))).shape
    (2, 60)
    >>> flatten(jnp.zeros((4,))).shape
    (4, 1)
    """
    x = as_array("flatten", "x", x)
    check_float("flatten", "x", x)
    if jnp.ndim(x) < 1:
        raise ValueError(f"flatten: `x` must have rank >= 1 (N, ...), got shape {jnp.shape(x)}")
    return _flatten(x, tuple(jnp.shape(x)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _flatten(x, in_shape):
    return x.reshape(in_shape[0], math.prod(in_shape[1:]))


def _flatten_fwd(x, in_shape):
    return x.reshape(in_shape[0], math.prod(in_shape[1:])), None


# _flatten_bwd :: (in_shape, residuals, ct_y) -> (ct_x,)
def _flatten_bwd(in_shape, res: None, ct_y):
    r"""VJP of flatten.

    .. math::
        y_{n, j} = x_{n, i_1, \dots, i_k}, \quad j = \operatorname{ravel}(i_1, \dots, i_k),
        \qquad \frac{\partial L}{\partial x_{n, i_1, \dots, i_k}} = \bar y_{n, j}

    with :math:`\bar y` bound to ``ct_y``: a reshape is a permutation-free re-indexing, so its
    transpose is the inverse reshape. The code reshapes ``ct_y`` to ``in_shape``.
    """
    return (ct_y.reshape(in_shape),)


_flatten.defvjp(_flatten_fwd, _flatten_bwd)
