"""Softmax cross-entropy with class weights, ignored labels, probability targets, smoothing.

One ``jax.custom_vjp``: per example ``-sum_k w_k b_nk log softmax(x_n)_k``, where ``b`` is
the (smoothed) target (one-hot of an integer label, or given probabilities) and ``w`` the
class weights, equal to ``F.cross_entropy(..., reduction="none")``. The residual is the
log-softmax (its exponential is the softmax every gradient needs; the target and weight
gradients need the log itself).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from cnnjax.ops._arraylike import as_array, as_float_array
from cnnjax.ops._util import check_same_dtype
from cnnjax.ops.loss import stable_log_softmax

__all__ = ["softmax_cross_entropy"]

OP = "softmax_cross_entropy"


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    label_smoothing: float = 0.0,
    weight: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
) -> jax.Array:
    """Per-example cross-entropy of ``softmax(logits)``, as ``F.cross_entropy(reduction="none")``.

    With smoothing :math:`\\varepsilon` the target is :math:`b = (1-\\varepsilon)\\,t +
    \\varepsilon / K`, ``t`` the one-hot of an integer label or the given probabilities, and
    the loss is :math:`\\ell_n = -\\sum_k w_k b_{nk} \\log \\mathrm{softmax}(x_n)_k` (PyTorch's
    weighted smoothing: the uniform part is weighted too). An example whose label equals
    ``ignore_index`` has loss 0 and gradient 0.

    Args:
      logits: floating array ``(N, K)``, or ``(..., K)``; the class axis is the last, K >= 1.
      labels: either integer class indices shaped ``logits.shape[:-1]`` (never
        differentiated; an out-of-range label that is not ``ignore_index`` gets an all-zero
        one-hot, so only the smoothing term), or class probabilities shaped like ``logits``
        with its dtype (differentiable).
      label_smoothing: static float in ``[0, 1]``.
      weight: optional floating class weights ``(K,)`` (cast to ``logits``' dtype);
        differentiable.
      ignore_index: optional static int label to ignore (integer labels only).

    Returns:
      Array ``logits.shape[:-1]`` (``(N,)``) of ``logits``' dtype.

    Residuals: the log-softmax ``(..., K)``, the labels and the weight.

    Raises:
      ValueError: ``logits`` of rank 0 or with K = 0, labels of the wrong shape,
        ``label_smoothing`` outside ``[0, 1]``, ``weight`` not ``(K,)``, ``ignore_index``
        with probability targets.
      TypeError: non-floating ``logits`` or ``weight``, labels neither integer nor
        ``logits``' float dtype, a non-real ``label_smoothing``, a non-int ``ignore_index``.

    >>> import jax.numpy as jnp
    >>> logits = jnp.zeros((2, 4))
    >>> loss = softmax_cross_entropy(logits, jnp.array([0, 3]))
    >>> bool(jnp.allclose(loss, jnp.log(4.0))), loss.shape
    (True, (2,))
    >>> float(softmax_cross_entropy(logits, jnp.array([0, 3]), ignore_index=3)[1]) == 0.0
    True
    """
    logits = as_float_array(OP, "logits", logits)
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(f"{OP}: `logits` must be (N, K) with K >= 1 classes, got {logits.shape}")
    labels = as_array(OP, "labels", labels)
    prob = _check_labels(logits, labels)
    smoothing = _check_smoothing(label_smoothing)
    if weight is not None:
        weight = as_float_array(OP, "weight", weight)
        if weight.shape != logits.shape[-1:]:
            raise ValueError(
                f"{OP}: `weight` must have shape (K,)=({logits.shape[-1]},), got {weight.shape}"
            )
        weight = weight.astype(logits.dtype)
    if ignore_index is not None:
        if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
            raise TypeError(f"{OP}: `ignore_index` must be an int or None, got {ignore_index!r}")
        if prob:
            raise ValueError(f"{OP}: `ignore_index` needs integer labels, got probabilities")
        ignore_index = int(ignore_index)
    return _softmax_cross_entropy(logits, labels, weight, smoothing, ignore_index)


def _check_labels(logits: jax.Array, labels: jax.Array) -> bool:
    """Validate ``labels``; True when they are class probabilities, False for indices."""
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if labels.shape != logits.shape[:-1]:
            raise ValueError(
                f"{OP}: integer `labels` must have shape logits.shape[:-1]={logits.shape[:-1]}, "
                f"got {labels.shape}"
            )
        return False
    if jnp.issubdtype(labels.dtype, jnp.floating):
        if labels.shape != logits.shape:
            raise ValueError(
                f"{OP}: probability `labels` must have logits' shape {logits.shape}, "
                f"got {labels.shape}"
            )
        check_same_dtype(OP, ("logits", "labels"), logits, labels)
        return True
    raise TypeError(f"{OP}: `labels` must be integer or floating, got dtype {labels.dtype}")


def _check_smoothing(value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{OP}: `label_smoothing` must be a float, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{OP}: `label_smoothing` must be in [0, 1], got {value!r}")
    return float(value)


def _base_target(labels, num_classes: int, smoothing: float, ignore_index, dtype):
    """``b = (1 - eps) t + eps / K``, zeroed on ignored examples; ``t`` one-hot or given."""
    if jnp.issubdtype(labels.dtype, jnp.floating):
        return (1.0 - smoothing) * labels.astype(dtype) + smoothing / num_classes
    classes = jnp.arange(num_classes, dtype=labels.dtype).reshape((1,) * labels.ndim + (-1,))
    b = (1.0 - smoothing) * (labels[..., None] == classes).astype(dtype) + smoothing / num_classes
    if ignore_index is not None:
        b = jnp.where((labels == ignore_index)[..., None], jnp.zeros((), dtype), b)
    return b


def _class_row(weight, ndim: int, dtype):
    """``weight`` as a ``(1, ..., K)`` row in ``dtype``, or the scalar 1 for no weight."""
    if weight is None:
        return jnp.ones((), dtype)
    return weight.astype(dtype).reshape((1,) * (ndim - 1) + weight.shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _softmax_cross_entropy(logits, labels, weight, smoothing, ignore_index):
    return _sce_fwd(logits, labels, weight, smoothing, ignore_index)[0]


class _SceRes(NamedTuple):
    logp: jax.Array  # (..., K), acc dtype: log_softmax(logits)
    labels: jax.Array  # (...) int indices, or (..., K) probabilities
    weight: jax.Array | None  # (K,) class weights, or None


def _sce_fwd(logits, labels, weight, smoothing, ignore_index):
    logp = stable_log_softmax(logits, -1)
    b = _base_target(labels, logits.shape[-1], smoothing, ignore_index, logp.dtype)
    loss = -jnp.sum(_class_row(weight, logp.ndim, logp.dtype) * b * logp, axis=-1)
    return loss.astype(logits.dtype), _SceRes(logp, labels, weight)


# _sce_bwd :: (smoothing, ignore_index, residuals, ct_loss) -> (ct_logits, ct_labels, ct_weight)
def _sce_bwd(smoothing: float, ignore_index, res: _SceRes, ct_loss):
    r"""VJP of softmax_cross_entropy.

    .. math::
        \ell_n = -\sum_k c_{nk} \log p_{nk}, \quad c_{nk} = w_k b_{nk}, \quad
        \log p_n = \mathrm{log\_softmax}(x_n), \qquad
        \frac{\partial L}{\partial x_{nj}} = \bar\ell_n \Bigl(p_{nj} \sum_k c_{nk}
        - c_{nj}\Bigr),

    .. math::
        \frac{\partial L}{\partial w_k} = -\sum_n \bar\ell_n b_{nk} \log p_{nk}, \qquad
        \frac{\partial L}{\partial t_{nk}} = -(1 - \varepsilon)\, \bar\ell_n w_k \log p_{nk}

    with :math:`\bar\ell` bound to ``ct_loss``, :math:`\log p` to ``res.logp``, :math:`w` to
    ``res.weight`` (1 when None), :math:`\varepsilon` to ``smoothing`` and :math:`b` the
    base target (``_base_target``: zero rows for ignored examples, so their gradient is 0).
    The first line uses :math:`\partial \log p_{nk} / \partial x_{nj} = \delta_{kj} - p_{nj}`;
    :math:`\sum_k c_{nk}` is 1 only without weights and with an in-range label, so the code
    keeps it. Integer labels get no cotangent (None). The code is the three products.
    """
    logp, labels, weight = res
    acc = logp.dtype
    b = _base_target(labels, logp.shape[-1], smoothing, ignore_index, acc)
    w = _class_row(weight, logp.ndim, acc)
    c = w * b
    ct = ct_loss.astype(acc)[..., None]
    ct_x = ct * (jnp.exp(logp) * jnp.sum(c, axis=-1, keepdims=True) - c)
    out_dtype = ct_loss.dtype
    ct_w = None
    if weight is not None:
        lead = tuple(range(logp.ndim - 1))
        ct_w = (-jnp.sum(ct * b * logp, axis=lead)).astype(weight.dtype)
    ct_labels = None
    if jnp.issubdtype(labels.dtype, jnp.floating):
        ct_labels = (-(1.0 - smoothing) * ct * w * logp).astype(labels.dtype)
    return ct_x.astype(out_dtype), ct_labels, ct_w


_softmax_cross_entropy.defvjp(_sce_fwd, _sce_bwd)
