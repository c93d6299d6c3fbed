"""The dense (fully connected) layer, a ``jax.custom_vjp`` with a hand-derived VJP.

``y = x W + b`` over the last axis of ``x``; every leading axis is a batch axis. Both the
forward and the backward contractions are single ``lax.dot_general`` calls; low-precision
inputs accumulate in float32 (``preferred_element_type``) and are cast back at the end.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._arraylike import as_array
from cnnjax.ops._util import acc_dtype, check_float, check_rank, check_same_dtype

__all__ = ["dense"]


def dense(
    x: jax.typing.ArrayLike, w: jax.typing.ArrayLike, b: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Affine map over the last axis: ``y = x @ w + b``.

    Args:
      x: floating array ``(..., In)``, rank >= 1; leading axes are batch axes.
      w: weights ``(In, Out)``, same dtype as ``x``.
      b: optional bias ``(Out,)``, same dtype as ``x``; ``None`` for no bias (its cotangent
        is then ``None`` too).

    Returns:
      Array ``(..., Out)`` of ``x``'s dtype. bfloat16/float16 inputs accumulate in float32.

    Residuals: ``x`` and ``w`` (each gradient needs the other operand); ``b`` is not kept.

    Raises:
      ValueError: ``x`` of rank 0, ``w`` not of rank 2, ``In`` mismatch, ``b`` not ``(Out,)``.
      TypeError: non-floating ``x`` or mixed dtypes.

    >>> import jax.numpy as jnp
    >>> dense(jnp.ones((2, 3)), jnp.ones((3, 4)), jnp.arange(4.0)).tolist()
    [[3.0, 4.0, 5.0, 6.0], [3.0, 4.0, 5.0, 6.0]]
    """
    x, w = as_array("dense", "x", x), as_array("dense", "w", w)
    b = None if b is None else as_array("dense", "b", b)
    check_float("dense", "x", x)
    if jnp.ndim(x) < 1:
        raise ValueError(f"dense: `x` must have rank >= 1 (..., In), got shape {jnp.shape(x)}")
    check_rank("dense", "w", w, 2, "(In, Out)")
    if w.shape[0] != x.shape[-1]:
        raise ValueError(
            f"dense: `w` expects In={w.shape[0]} but `x` has In={x.shape[-1]} "
            f"(x shape {x.shape}, w shape {w.shape})"
        )
    if b is not None and jnp.shape(b) != (w.shape[1],):
        raise ValueError(f"dense: `b` must have shape (Out,)=({w.shape[1]},), got {jnp.shape(b)}")
    check_same_dtype("dense", ("x", "w", "b"), x, w, b)
    return _dense(b is not None, x, w, b)


def _matmul(x, w):
    """``x @ w`` over the last axis of ``x``, accumulated in ``acc_dtype``; not cast back."""
    dims = (((x.ndim - 1,), (0,)), ((), ()))
    return lax.dot_general(x, w, dims, preferred_element_type=acc_dtype(x.dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _dense(has_bias, x, w, b):
    return _dense_fwd(has_bias, x, w, b)[0]


class _DenseRes(NamedTuple):
    x: jax.Array  # (..., In)
    w: jax.Array  # (In, Out)


def _dense_fwd(has_bias, x, w, b):
    y = _matmul(x, w)
    if has_bias:
        y = y + b.astype(y.dtype).reshape((1,) * (y.ndim - 1) + b.shape)
    return y.astype(x.dtype), _DenseRes(x, w)


# _dense_bwd :: (has_bias, residuals, ct_y) -> (ct_x, ct_w, ct_b)
def _dense_bwd(has_bias: bool, res: _DenseRes, ct_y):
    r"""VJP of dense.

    .. math::
        y_{\cdot o} = \sum_i x_{\cdot i} W_{io} + b_o, \qquad
        \frac{\partial L}{\partial x} = \bar Y W^\top, \qquad
        \frac{\partial L}{\partial W} = \sum_{\text{lead}} x^\top \bar Y, \qquad
        \frac{\partial L}{\partial b} = \sum_{\text{lead}} \bar Y

    with :math:`\bar Y` bound to ``ct_y`` ``(..., Out)``, :math:`x` to ``res.x`` and
    :math:`W` to ``res.w``; :math:`\sum_{\text{lead}}` runs over every leading (batch) axis.
    The code is one ``dot_general`` contracting ``Out`` for ``ct_x``, one contracting all
    leading axes of ``x`` and ``ct_y`` for ``ct_w``, and a sum over the leading axes for
    ``ct_b`` (``None`` when ``has_bias`` is false), each accumulated in float32 for bf16.
    """
    x, w = res.x, res.w
    acc = acc_dtype(x.dtype)
    lead = tuple(range(x.ndim - 1))
    ct_x = lax.dot_general(
        ct_y, w, (((ct_y.ndim - 1,), (1,)), ((), ())), preferred_element_type=acc
    )
    ct_w = lax.dot_general(x, ct_y, ((lead, lead), ((), ())), preferred_element_type=acc)
    ct_b = jnp.sum(ct_y.astype(acc), axis=lead).astype(x.dtype) if has_bias else None
    return ct_x.astype(x.dtype), ct_w.astype(w.dtype), ct_b


_dense.defvjp(_dense_fwd, _dense_bwd)
