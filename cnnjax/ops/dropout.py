"""Inverted dropout as a ``jax.custom_vjp`` whose residual is the boolean keep mask."""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.ops._arraylike import as_float_array

__all__ = ["dropout"]


def _check_rate(rate: Any) -> float:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise TypeError(f"dropout: `rate` must be a real number in [0, 1), got {rate!r}")
    if not 0 <= float(rate) < 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1), got {rate!r}")
    return float(rate)


def _check_key(key: Any) -> None:
    if key is None:
        raise TypeError(
            "dropout: `key` must be a PRNG key when rate > 0 and not deterministic, got None"
        )
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    raw = dtype == jnp.uint32 and jnp.ndim(key) == 1
    if not (typed and jnp.ndim(key) == 0) and not raw:
        raise TypeError(
            "dropout: `key` must be one PRNG key (jax.random.key or jax.random.PRNGKey), "
            f"got dtype {dtype} and shape {jnp.shape(key)}"
        )


def _check_broadcast_dims(dims: Any, ndim: int) -> tuple[int, ...]:
    """Normalise ``broadcast_dims`` to sorted non-negative axes of a rank-``ndim`` array."""
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        dims = (dims,)
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims
    ):
        raise TypeError(f"dropout: `broadcast_dims` must be a tuple of ints, got {dims!r}")
    if not all(-ndim <= d < ndim for d in dims):
        raise ValueError(f"dropout: `broadcast_dims` {tuple(dims)} out of range for rank {ndim}")
    axes = tuple(sorted({int(d) % ndim for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"dropout: `broadcast_dims` repeats an axis: {tuple(dims)}")
    return axes


def dropout(
    x: jax.typing.ArrayLike,
    key: jax.Array | None,
    *,
    rate: float,
    deterministic: bool = False,
    broadcast_dims: tuple[int, ...] = (),
) -> jax.Array:
    """Inverted dropout: zero each element with probability ``rate``, scale the rest.

    The keep mask is ``jax.random.bernoulli(key, 1 - rate, mask_shape)``, where
    ``mask_shape`` is ``x.shape`` with every axis in ``broadcast_dims`` set to 1 (one draw
    shared along those axes), and ``y = x * mask / (1 - rate)``, so ``E[y] = x``.
    ``broadcast_dims=(1, 2)`` on NHWC drops whole channels per example (``F.dropout2d``).
    With ``deterministic=True`` or ``rate == 0`` it is the identity and ``key`` may be None.

    Args:
      x: floating array, any shape.
      key: a PRNG key (``jax.random.key`` or ``jax.random.PRNGKey``); gets no cotangent.
      rate: static drop probability in [0, 1).
      deterministic: static bool; True turns dropout off (evaluation mode).
      broadcast_dims: static tuple of axes (negative counts from the end) along which the
        mask is shared.

    Returns:
      Array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``rate`` outside [0, 1), ``broadcast_dims`` out of range or repeated.
      TypeError: non-float ``x``, a non-real ``rate``, a non-bool ``deterministic``, or no
        usable ``key`` when one is needed.

    Residuals: the boolean keep mask (1 byte per mask element, ``mask_shape``); none for the
    identity.

    >>> import jax, jax.numpy as jnp
    >>> dropout(jnp.ones((2, 3)), None, rate=0.5, deterministic=True).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> y = dropout(jnp.ones((1000,)), jax.random.key(0), rate=0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    x = as_float_array("dropout", "x", x)
    rate = _check_rate(rate)
    axes = _check_broadcast_dims(broadcast_dims, x.ndim)
    if not isinstance(deterministic, (bool, np.bool_)):
        raise TypeError(f"dropout: `deterministic` must be a bool, got {deterministic!r}")
    if deterministic or rate == 0.0:
        return _dropout(x, None, 0.0, ())
    _check_key(key)
    return _dropout(x, key, rate, axes)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _dropout(x, key, rate, broadcast_dims):
    return _dropout_fwd(x, key, rate, broadcast_dims)[0]


class _DropoutRes(NamedTuple):
    keep: jax.Array | None  # bool, mask_shape: the keep mask; None for the identity


def _dropout_fwd(x, key, rate, broadcast_dims):
    if rate == 0.0:
        return x, _DropoutRes(None)
    shape = tuple(1 if a in broadcast_dims else n for a, n in enumerate(x.shape))
    keep = jax.random.bernoulli(key, 1 - rate, shape)
    return jnp.where(keep, x / (1 - rate), jnp.zeros((), x.dtype)), _DropoutRes(keep)


# _dropout_bwd :: (rate, broadcast_dims, residuals, ct_y) -> (ct_x, ct_key)
def _dropout_bwd(rate, broadcast_dims, res: _DropoutRes, ct_y):
    r"""VJP of dropout.

    .. math::
        y_i = \frac{m_i\, x_i}{1 - p}, \qquad
        \frac{\partial L}{\partial x_i} = \frac{m_i\, \bar y_i}{1 - p}

    with :math:`m` bound to ``res.keep``, :math:`p` to ``rate`` and :math:`\bar y` to
    ``ct_y``: the same mask and scale as the forward pass (the map is linear in ``x``; a
    mask shared along ``broadcast_dims`` is broadcast back the same way, and each element
    keeps its own cotangent, so nothing is summed). The
    key is integer data and gets no cotangent (None). The code is the masked, scaled
    ``ct_y``, or ``ct_y`` itself for the identity.
    """
    if res.keep is None:
        return ct_y, None
    return jnp.where(res.keep, ct_y / (1 - rate), jnp.zeros((), ct_y.dtype)), None


_dropout.defvjp(_dropout_fwd, _dropout_bwd)
