"""Cases for softmax, log_softmax, softmax_cross_entropy and mse_loss.

Integer labels are int32 arrays built in ``make_args``, in range ``[0, K)``; they are not
differentiable. Probability targets and class weights are (``argnums`` lists them).
"""

from __future__ import annotations

import numpy as np

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import distinct, normal


def _big(r, *shape: int):
    """Logits spread over about ``[-1e4, 1e4]``, every two at least ``2e4 / size`` apart.

    The gaps (hundreds or more) stay far above bfloat16's rounding of ``1e4`` (32), so the
    cast to the dtype under test never changes which logit wins; near-ties are not the point
    of these cases, magnitude is.
    """
    n = int(np.prod(shape))
    return distinct(r, *shape, gap=2e4 / n)


def _sce_args(n: int, k: int, big: bool = False):
    def make(r):
        logits = _big(r, n, k) if big else normal(r, n, k)
        return logits, r.integers(0, k, size=n).astype(np.int32)

    return make


def _labels(n: int, k: int, ignore=None, all_ignored: bool = False):
    """Logits and int labels, every other one (or all) set to ``ignore``."""

    def make(r):
        labels = r.integers(0, k, size=n).astype(np.int32)
        if ignore is not None:
            labels[:: 1 if all_ignored else 2] = ignore
        return normal(r, n, k), labels

    return make


def _prob_targets(n: int, k: int):
    """Logits and a random probability table ``(n, k)`` (differentiable: ``argnums=(0, 1)``)."""

    def make(r):
        t = r.uniform(0.1, 1.0, size=(n, k))
        return normal(r, n, k), t / t.sum(-1, keepdims=True)

    return make


def _weights(k: int) -> np.ndarray:
    """Fixed, unequal class weights in [0.5, 2]: a static keyword array, cast to the dtype
    under test by the op. (The weight's own gradient is tested in tests/ops/test_loss.py.)"""
    return np.linspace(0.5, 2.0, k)


# Second order dominates the suite's time: the quick subset checks it on one case per op and
# on the smoothed loss; `quick=False` cases run in `cnnjax audit` only.
CASES = [
    Case(
        "log_softmax-n5-k10",
        "log_softmax",
        lambda r: (normal(r, 5, 10),),
        fd=True,
        second_order=False,
    ),
    Case(
        "log_softmax-axis0-4x3x2",
        "log_softmax",
        lambda r: (normal(r, 4, 3, 2),),
        kwargs={"axis": 0},
        fd=True,
    ),
    Case("log_softmax-big-n3-k4", "log_softmax", lambda r: (_big(r, 3, 4),), second_order=False),
    Case(
        "softmax_cross_entropy-n6-k10",
        "softmax_cross_entropy",
        _sce_args(6, 10),
        fd=True,
        second_order=False,
    ),
    Case(
        "softmax_cross_entropy-n8-k2", "softmax_cross_entropy", _sce_args(8, 2), second_order=False
    ),
    Case(
        "softmax_cross_entropy-n1-k10",
        "softmax_cross_entropy",
        _sce_args(1, 10),
        second_order=False,
    ),
    Case(
        "softmax_cross_entropy-ls0.1-n6-k10",
        "softmax_cross_entropy",
        _sce_args(6, 10),
        kwargs={"label_smoothing": 0.1},
        fd=True,
    ),
    Case(
        "softmax_cross_entropy-ls0.1-n5-k2",
        "softmax_cross_entropy",
        _sce_args(5, 2),
        kwargs={"label_smoothing": 0.1},
        quick=False,
    ),
    Case(
        "softmax_cross_entropy-big-n4-k5",
        "softmax_cross_entropy",
        _sce_args(4, 5, big=True),
        quick=False,
    ),
    Case(
        "softmax_cross_entropy-big-ls0.1-n4-k5",
        "softmax_cross_entropy",
        _sce_args(4, 5, big=True),
        kwargs={"label_smoothing": 0.1},
        fd=True,
        second_order=False,
    ),
    Case("softmax-n5-k10", "softmax", lambda r: (normal(r, 5, 10),), fd=True),
    Case("softmax-axis0-4x3x2", "softmax", lambda r: (normal(r, 4, 3, 2),), kwargs={"axis": 0}),
    Case(
        "softmax-axis1-2x3x4",
        "softmax",
        lambda r: (normal(r, 2, 3, 4),),
        kwargs={"axis": 1},
        quick=False,
    ),
    Case("softmax-big-n3-k4", "softmax", lambda r: (_big(r, 3, 4),), quick=False),
    Case(
        "softmax_cross_entropy-weight-ls0.2-ignore-n6-k5",
        "softmax_cross_entropy",
        _labels(6, 5, ignore=4),
        kwargs={"label_smoothing": 0.2, "ignore_index": 4, "weight": _weights(5)},
        fd=True,
        second_order=False,
    ),
    Case(
        "softmax_cross_entropy-weight-ignore-all-n4-k3",
        "softmax_cross_entropy",
        _labels(4, 3, ignore=1, all_ignored=True),
        kwargs={"ignore_index": 1, "weight": _weights(3)},
        second_order=False,
    ),
    Case(
        "softmax_cross_entropy-ignore-neg100-n5-k4",
        "softmax_cross_entropy",
        _labels(5, 4, ignore=-100),
        kwargs={"ignore_index": -100},
        quick=False,
    ),
    Case(
        "softmax_cross_entropy-prob-n5-k4",
        "softmax_cross_entropy",
        _prob_targets(5, 4),
        argnums=(0, 1),
        fd=True,
        second_order=False,
    ),
    Case(
        "softmax_cross_entropy-prob-weight-ls0.1-n4-k6",
        "softmax_cross_entropy",
        _prob_targets(4, 6),
        kwargs={"label_smoothing": 0.1, "weight": _weights(6)},
        argnums=(0, 1),
        quick=False,
    ),
    Case(
        "softmax_cross_entropy-weight-n7-k3",
        "softmax_cross_entropy",
        _labels(7, 3),
        kwargs={"weight": _weights(3)},
        quick=False,
    ),
    Case(
        "mse_loss-nhwc-2x3x4x2",
        "mse_loss",
        lambda r: (normal(r, 2, 3, 4, 2), normal(r, 2, 3, 4, 2)),
        argnums=(0, 1),
        fd=True,
    ),
    Case("mse_loss-vector-5", "mse_loss", lambda r: (normal(r, 5), normal(r, 5)), argnums=(0, 1)),
    Case(
        "mse_loss-n1-1x7",
        "mse_loss",
        lambda r: (normal(r, 1, 7), normal(r, 1, 7)),
        argnums=(0, 1),
        quick=False,
    ),
]
