"""Cases for the dense layer: rank 2 and rank 4 inputs, In = 1, Out = 1, with and without bias."""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def _dense_args(lead: tuple[int, ...], n_in: int, n_out: int, bias: bool = True):
    def make(r):
        args = (normal(r, *lead, n_in), normal(r, n_in, n_out, scale=n_in**-0.5))
        return (*args, normal(r, n_out)) if bias else args

    return make


# Second order (jacfwd over every input entry) dominates the suite's time: the quick subset
# checks it on the two small rank-2 cases; the rest run it in `cnnjax audit` only.
CASES = [
    Case("dense-n4-in5-out3", "dense", _dense_args((4,), 5, 3), argnums=(0, 1, 2), fd=True),
    Case(
        "dense-nhwc-2x3x2x5-out4",
        "dense",
        _dense_args((2, 3, 2), 5, 4),
        argnums=(0, 1, 2),
        fd=True,
        second_order=False,
    ),
    Case(
        "dense-nhwc-2x3x2x5-out4-2nd",
        "dense",
        _dense_args((2, 3, 2), 5, 4),
        argnums=(0, 1, 2),
        quick=False,
    ),
    Case(
        "dense-n3-in1-out4", "dense", _dense_args((3,), 1, 4), argnums=(0, 1, 2), second_order=False
    ),
    Case(
        "dense-n6-in7-out1", "dense", _dense_args((6,), 7, 1), argnums=(0, 1, 2), second_order=False
    ),
    Case(
        "dense-nobias-n4-in5-out3",
        "dense",
        _dense_args((4,), 5, 3, bias=False),
        argnums=(0, 1),
        fd=True,
    ),
    Case(
        "dense-nobias-rank4-2x2x3x4-out2",
        "dense",
        _dense_args((2, 2, 3), 4, 2, bias=False),
        argnums=(0, 1),
        quick=False,
    ),
    Case("dense-vector-in6-out2", "dense", _dense_args((), 6, 2), argnums=(0, 1, 2), quick=False),
]
