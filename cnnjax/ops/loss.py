"""Softmax, log-softmax and the mean squared error, each a ``custom_vjp`` with a hand VJP.

Both shift the logits by their (gradient-free) maximum before exponentiating, so logits of
any magnitude (``±1e4`` included) give finite values and gradients. bfloat16/float16 inputs
are computed in float32 and cast back. The residual of both is their own output.
Cross-entropy is in :mod:`cnnjax.ops.cross_entropy`.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cnnjax.ops._arraylike import as_float_array
from cnnjax.ops._util import acc_dtype, check_same_dtype

__all__ = ["log_softmax", "mse_loss", "softmax"]


def stable_log_softmax(x: jax.Array, axis: int) -> jax.Array:
    """``x - max - log(sum(exp(x - max)))`` along ``axis``, in ``acc_dtype``; not cast back."""
    x = x.astype(acc_dtype(x.dtype))
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


# -------------------------------------------------------------------------------- log_softmax


def log_softmax(logits: jax.typing.ArrayLike, axis: int = -1) -> jax.Array:
    """Numerically stable ``log(softmax(logits))`` along ``axis``.

    Args:
      logits: floating array, any shape of rank >= 1.
      axis: the class axis (static int, negative counts from the end).

    Returns:
      Array of ``logits``' shape and dtype.

    Residuals: the output ``y`` (the softmax is ``exp(y)``), not ``logits``.

    >>> import jax.numpy as jnp
    >>> log_softmax(jnp.zeros((1, 4))).tolist() == [[-float(jnp.log(4.0))] * 4]
    True
    """
    logits = as_float_array("log_softmax", "logits", logits)
    return _log_softmax(logits, _class_axis("log_softmax", "logits", logits, axis))


def _class_axis(op: str, name: str, x: jax.Array, axis) -> int:
    """Validate ``axis`` for a rank >= 1 ``x`` and return it as a non-negative int."""
    if x.ndim < 1:
        raise ValueError(f"{op}: `{name}` must have rank >= 1, got shape {x.shape}")
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{op}: `axis` must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: `axis` {axis} is out of range for rank {x.ndim}")
    return int(axis) % x.ndim


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _log_softmax(logits, axis):
    return _log_softmax_fwd(logits, axis)[0]


class _LogSoftmaxRes(NamedTuple):
    y: jax.Array  # logits.shape: the output log-softmax


def _log_softmax_fwd(logits, axis):
    y = stable_log_softmax(logits, axis).astype(logits.dtype)
    return y, _LogSoftmaxRes(y)


# _log_softmax_bwd :: (axis, residuals, ct_y) -> (ct_logits,)
def _log_softmax_bwd(axis: int, res: _LogSoftmaxRes, ct_y):
    r"""VJP of log_softmax.

    .. math::
        y_i = x_i - \log \sum_j e^{x_j}, \qquad
        \frac{\partial y_i}{\partial x_k} = \delta_{ik} - p_k, \qquad
        \frac{\partial L}{\partial x_k} = \bar y_k - p_k \sum_i \bar y_i

    with :math:`\bar y` bound to ``ct_y``, :math:`p = e^{y}` the softmax recovered from
    ``res.y``, and the sums along ``axis``. The code is ``ct_y - exp(y) * sum(ct_y)``, in
    float32 for low-precision inputs.
    """
    acc = acc_dtype(res.y.dtype)
    ct = ct_y.astype(acc)
    p = jnp.exp(res.y.astype(acc))
    ct_x = ct - p * jnp.sum(ct, axis=axis, keepdims=True)
    return (ct_x.astype(res.y.dtype),)


_log_softmax.defvjp(_log_softmax_fwd, _log_softmax_bwd)


# ------------------------------------------------------------------------------------ softmax


def softmax(x: jax.typing.ArrayLike, axis: int = -1) -> jax.Array:
    """Numerically stable ``exp(x) / sum(exp(x))`` along ``axis``, as ``F.softmax(x, dim)``.

    Args:
      x: floating array (or array-like), any shape of rank >= 1.
      axis: the class axis (static int, negative counts from the end).

    Returns:
      Array of ``x``'s shape and dtype, each slice along ``axis`` summing to 1.

    Residuals: the output ``p``, of which the Jacobian is a function.

    >>> import jax.numpy as jnp
    >>> softmax(jnp.log(jnp.array([[1.0, 3.0]]))).tolist()
    [[0.25, 0.75]]
    """
    x = as_float_array("softmax", "x", x)
    return _softmax(x, _class_axis("softmax", "x", x, axis))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _softmax(x, axis):
    return _softmax_fwd(x, axis)[0]


class _SoftmaxRes(NamedTuple):
    p: jax.Array  # x.shape, x.dtype: the output softmax


def _softmax_fwd(x, axis):
    # exp(x - max) / sum, one exponential per entry; exp(log_softmax(x)) takes two (the one
    # inside its log-sum and the outer one) and made fwd+bwd 1.5x autodiff's time.
    xa = x.astype(acc_dtype(x.dtype))
    e = jnp.exp(xa - jnp.max(xa, axis=axis, keepdims=True))
    p = (e / jnp.sum(e, axis=axis, keepdims=True)).astype(x.dtype)
    return p, _SoftmaxRes(p)


# _softmax_bwd :: (axis, residuals, ct_y) -> (ct_x,)
def _softmax_bwd(axis: int, res: _SoftmaxRes, ct_y):
    r"""VJP of softmax.

    .. math::
        p_i = \frac{e^{x_i}}{\sum_j e^{x_j}}, \qquad
        \frac{\partial p_i}{\partial x_k} = p_i (\delta_{ik} - p_k), \qquad
        \frac{\partial L}{\partial x_k} = p_k \Bigl(\bar p_k - \sum_i \bar p_i p_i\Bigr)

    with :math:`p` bound to ``res.p``, :math:`\bar p` to ``ct_y`` and the sums along
    ``axis``. The code is ``p * (ct_y - sum(ct_y * p))``, in float32 for low precision.
    """
    acc = acc_dtype(res.p.dtype)
    p, ct = res.p.astype(acc), ct_y.astype(acc)
    ct_x = p * (ct - jnp.sum(ct * p, axis=axis, keepdims=True))
    return (ct_x.astype(res.p.dtype),)


_softmax.defvjp(_softmax_fwd, _softmax_bwd)


# ----------------------------------------------------------------------------------- mse_loss


def mse_loss(pred: jax.typing.ArrayLike, target: jax.typing.ArrayLike) -> jax.Array:
    """Per-example mean squared error: ``mean((pred - target) ** 2)`` over the non-batch axes.

    Equals ``F.mse_loss(pred, target, reduction="none")`` averaged over every axis but the
    first. A rank-1 ``pred`` ``(N,)`` has no feature axis: its loss is the squared error.

    Args:
      pred: floating array ``(N, ...)``, rank >= 1; differentiable.
      target: floating array of ``pred``'s shape and dtype; differentiable too.

    Returns:
      Array ``(N,)`` of ``pred``'s dtype.

    Residuals: the difference ``pred - target`` (one array; both gradients are it, scaled).

    Raises:
      ValueError: ``pred`` of rank 0, or ``target`` of another shape.
      TypeError: non-floating arrays or mixed dtypes.

    >>> import jax.numpy as jnp
    >>> mse_loss(jnp.array([[1.0, 3.0], [0.0, 0.0]]), jnp.zeros((2, 2))).tolist()
    [5.0, 0.0]
    """
    pred = as_float_array("mse_loss", "pred", pred)
    target = as_float_array("mse_loss", "target", target)
    if pred.ndim < 1:
        raise ValueError(f"mse_loss: `pred` must have rank >= 1 (N, ...), got shape {pred.shape}")
    if target.shape != pred.shape:
        raise ValueError(
            f"mse_loss: `target` must have pred's shape {pred.shape}, got {target.shape}"
        )
    check_same_dtype("mse_loss", ("pred", "target"), pred, target)
    return _mse_loss(pred, target)


@jax.custom_vjp
def _mse_loss(pred, target):
    return _mse_loss_fwd(pred, target)[0]


class _MseLossRes(NamedTuple):
    diff: jax.Array  # pred.shape, pred.dtype: pred - target


def _mse_loss_fwd(pred, target):
    diff = pred - target
    d = diff.astype(acc_dtype(diff.dtype))
    loss = jnp.mean(d * d, axis=tuple(range(1, d.ndim)))
    return loss.astype(pred.dtype), _MseLossRes(diff)


# _mse_loss_bwd :: (residuals, ct_loss) -> (ct_pred, ct_target)
def _mse_loss_bwd(res: _MseLossRes, ct_loss):
    r"""VJP of mse_loss.

    .. math::
        \ell_n = \frac1M \sum_j d_{nj}^2, \quad d = \hat y - t, \qquad
        \frac{\partial L}{\partial \hat y_{nj}} = \frac{2}{M} \bar\ell_n d_{nj}
        = -\frac{\partial L}{\partial t_{nj}}

    with :math:`d` bound to ``res.diff``, :math:`\bar\ell` to ``ct_loss`` and :math:`M` the
    number of elements per example. The code is ``2 / M * ct[:, None...] * diff`` and its
    negation.
    """
    diff = res.diff
    acc = acc_dtype(diff.dtype)
    m = math.prod(diff.shape[1:])
    ct = ct_loss.astype(acc).reshape(ct_loss.shape + (1,) * (diff.ndim - 1))
    ct_pred = ((2.0 / m) * ct * diff.astype(acc)).astype(diff.dtype)
    return ct_pred, -ct_pred


_mse_loss.defvjp(_mse_loss_fwd, _mse_loss_bwd)
