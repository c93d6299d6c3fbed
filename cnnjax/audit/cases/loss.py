"""Cases for log_softmax and softmax_cross_entropy.

Only the logits are differentiable (``argnums=(0,)``); labels are int32 arrays built in
``make_args``, always in range ``[0, K)``.
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
]
