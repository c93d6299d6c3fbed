"""Log-softmax and softmax cross-entropy, each a ``jax.custom_vjp`` with a hand-derived VJP.

Both shift the logits by their (gradient-free) maximum before exponentiating, so logits of
any magnitude (``±1e4`` included) give finite values and gradients. bfloat16/float16 inputs
are computed in float32 and cast back. The residual of both is the (log-)softmax output:
its exponential is the softmax that every gradient here needs.
"""

from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cnnjax.ops._util import acc_dtype, check_float

__all__ = ["log_softmax", "softmax_cross_entropy"]


def _stable_log_softmax(x: jax.Array, axis: int) -> jax.Array:
    """``x - max - log(sum(exp(x - max)))`` along ``axis``, in ``acc_dtype``; not cast back."""
    x = x.astype(acc_dtype(x.dtype))
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


# -------------------------------------------------------------------------------- log_softmax


def log_softmax(logits: jax.Array, axis: int = -1) -> jax.Array:
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
    check_float("log_softmax", "logits", logits)
    ndim = jnp.ndim(logits)
    if ndim < 1:
        raise ValueError(
            f"log_softmax: `logits` must have rank >= 1, got shape {jnp.shape(logits)}"
        )
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"log_softmax: `axis` must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"log_softmax: `axis` {axis} is out of range for rank {ndim}")
    return _log_softmax(int(axis) % ndim, logits)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _log_softmax(axis, logits):
    return _log_softmax_fwd(axis, logits)[0]


class _LogSoftmaxRes(NamedTuple):
    y: jax.Array  # logits.shape: the output log-softmax


def _log_softmax_fwd(axis, logits):
    y = _stable_log_softmax(logits, axis).astype(logits.dtype)
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


# ---------------------------------------------------------------------- softmax_cross_entropy


def softmax_cross_entropy(
    logits: jax.Array, labels: jax.Array, *, label_smoothing: float = 0.0
) -> jax.Array:
    """Per-example cross-entropy of ``softmax(logits)`` against integer class labels.

    With smoothing :math:`\\varepsilon` the target is :math:`(1-\\varepsilon)\\,\\mathrm{onehot}
    + \\varepsilon / K`, and the loss is :math:`-\\sum_k t_k \\log \\mathrm{softmax}(x)_k`.

    Args:
      logits: floating array ``(N, K)``; extra leading axes are allowed, ``(..., K)``, the
        class axis is always the last.
      labels: integer array ``logits.shape[:-1]``, values in ``[0, K)``. Labels are traced
        values, so their range is not checked: an out-of-range label (negative or ``>= K``)
        gets an all-zero one-hot, so its loss is only the smoothing term
        :math:`-\\frac{\\varepsilon}{K}\\sum_k \\log p_k` (``0`` when ``label_smoothing=0``).
        Labels are never differentiated: their cotangent is ``None`` (taking a gradient wrt
        them raises a TypeError; with ``allow_int=True`` it is ``float0`` zeros).
      label_smoothing: static float in ``[0, 1]``.

    Returns:
      Array ``logits.shape[:-1]`` (``(N,)``) of ``logits``' dtype.

    Residuals: the softmax probabilities ``(..., K)`` (in ``logits``' dtype) and ``labels``.

    Raises:
      ValueError: ``logits`` of rank 0, ``labels`` of the wrong shape, ``label_smoothing``
        outside ``[0, 1]``.
      TypeError: non-floating ``logits``, non-integer ``labels``, non-real ``label_smoothing``.

    >>> import jax.numpy as jnp
    >>> logits = jnp.zeros((2, 4))
    >>> loss = softmax_cross_entropy(logits, jnp.array([0, 3]))
    >>> bool(jnp.allclose(loss, jnp.log(4.0))), loss.shape
    (True, (2,))
    """
    op = "softmax_cross_entropy"
    check_float(op, "logits", logits)
    if jnp.ndim(logits) < 1:
        raise ValueError(
            f"{op}: `logits` must have rank >= 1 (N, K), got shape {jnp.shape(logits)}"
        )
    label_dtype = jnp.result_type(labels)
    if not jnp.issubdtype(label_dtype, jnp.integer):
        raise TypeError(f"{op}: `labels` must be an integer array, got dtype {label_dtype}")
    if jnp.shape(labels) != logits.shape[:-1]:
        raise ValueError(
            f"{op}: `labels` must have shape logits.shape[:-1]={logits.shape[:-1]}, "
            f"got {jnp.shape(labels)}"
        )
    if not isinstance(label_smoothing, numbers.Real) or isinstance(label_smoothing, bool):
        raise TypeError(f"{op}: `label_smoothing` must be a float, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: `label_smoothing` must be in [0, 1], got {label_smoothing!r}")
    return _softmax_cross_entropy(float(label_smoothing), logits, jnp.asarray(labels))


def _target(labels: jax.Array, num_classes: int, smoothing: float, dtype) -> jax.Array:
    """``(1 - eps) * onehot(labels) + eps / K``; out-of-range labels give an all-zero one-hot."""
    onehot = labels[..., None] == jnp.arange(num_classes, dtype=labels.dtype).reshape(
        (1,) * labels.ndim + (-1,)
    )
    return (1.0 - smoothing) * onehot.astype(dtype) + smoothing / num_classes


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _softmax_cross_entropy(smoothing, logits, labels):
    return _sce_fwd(smoothing, logits, labels)[0]


class _SceRes(NamedTuple):
    probs: jax.Array  # (..., K), logits' dtype: softmax(logits)
    labels: jax.Array  # (...), int: the class indices


def _sce_fwd(smoothing, logits, labels):
    logp = _stable_log_softmax(logits, -1)
    target = _target(labels, logits.shape[-1], smoothing, logp.dtype)
    loss = -jnp.sum(target * logp, axis=-1)
    return loss.astype(logits.dtype), _SceRes(jnp.exp(logp).astype(logits.dtype), labels)


# _sce_bwd :: (smoothing, residuals, ct_loss) -> (ct_logits, None)
def _sce_bwd(smoothing: float, res: _SceRes, ct_loss):
    r"""VJP of softmax_cross_entropy.

    .. math::
        \ell_n = -\sum_k t_{nk} \log p_{nk}, \quad p_n = \mathrm{softmax}(x_n), \quad
        \sum_k t_{nk} = 1 \;\Rightarrow\;
        \frac{\partial L}{\partial x_{nk}} = \bar\ell_n \, (p_{nk} - t_{nk})

    with :math:`\bar\ell` bound to ``ct_loss``, :math:`p` to ``res.probs`` and
    :math:`t = (1-\varepsilon)\,\mathrm{onehot}(\text{res.labels}) + \varepsilon/K`
    (``smoothing`` is :math:`\varepsilon`). Out-of-range labels have :math:`\sum_k t_{nk} =
    \varepsilon \ne 1`; there the exact gradient is :math:`\bar\ell_n(\varepsilon p_{nk} -
    t_{nk})`, which the code also uses, writing it as ``ct[..., None] * (sum(t) * p - t)``.
    Labels are integers and get no cotangent: ``None``.
    """
    acc = acc_dtype(res.probs.dtype)
    p = res.probs.astype(acc)
    t = _target(res.labels, p.shape[-1], smoothing, acc)
    ct_x = ct_loss.astype(acc)[..., None] * (jnp.sum(t, axis=-1, keepdims=True) * p - t)
    return ct_x.astype(res.probs.dtype), None


_softmax_cross_entropy.defvjp(_sce_fwd, _sce_bwd)
