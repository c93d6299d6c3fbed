"""Edge inputs for check 7, keyed by op name: kinks, ties, extreme values, zero variance.

The case grid keeps its random inputs off kinks and ties (so finite differences and
``jax.vjp`` are well defined); these inputs sit exactly on them. ``check_vjp`` asserts that
outputs and gradients stay finite there (float64 and every audited dtype) and that in float64
they equal the reference's, i.e. the documented convention: relu'(0) = 0, max pooling routes
a window's cotangent to its first maximum, batch norm of a constant channel is finite.

Each builder takes the case's first argument (a float64 NumPy array ``x``) and returns
``(label, new_x)`` pairs; the other arguments stay as the case made them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

HUGE = 1e4  # large enough to overflow a naive exp in float32/bfloat16, finite in all three


class EdgeInput(NamedTuple):
    """An edge input for ``check_vjp(..., edge_inputs=[...])``.

    Attributes:
      label: what is special about it, e.g. ``"exact kinks"``; appears in the report.
      args: all positional arguments, as for the audited function.
    """

    label: str
    args: tuple[Any, ...]


def as_edge_inputs(items: Sequence[EdgeInput | tuple]) -> list[EdgeInput]:
    """Accept ``EdgeInput``s or bare argument tuples (labelled ``edge0``, ``edge1``, ...)."""
    out = []
    for k, item in enumerate(items):
        if isinstance(item, EdgeInput):
            out.append(EdgeInput(item.label, tuple(item.args)))
        elif isinstance(item, (tuple, list)):
            out.append(EdgeInput(f"edge{k}", tuple(item)))
        else:
            raise TypeError(
                f"check_vjp: `edge_inputs[{k}]` must be an EdgeInput or a tuple "
                f"of arguments, got {type(item).__name__}"
            )
    return out


def _kinks(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every other element exactly at the kink 0."""
    flat = x.reshape(-1).copy()
    flat[::2] = 0.0
    return [("exact kinks (x = 0)", flat.reshape(x.shape))]


def _extremes(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Signs of ``x`` at +-1e4, plus 0."""
    flat = np.where(x.reshape(-1) >= 0, HUGE, -HUGE)
    flat[::3] = 0.0
    return [(f"extremes (+-{HUGE:g})", flat.reshape(x.shape))]


def _huge_logits(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [(f"huge logits (x {HUGE:g})", x * HUGE), ("all logits tied", np.zeros_like(x))]


def _ties(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [("all windows tied (zeros)", np.zeros_like(x)), ("partial ties", np.round(x * 2) / 2)]


def _constant_channel(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    const, near = x.copy(), x.copy()
    const[..., 0] = 0.3
    near[..., 0] = 0.3 + 1e-6 * x[..., 0]
    return [
        ("constant channel (zero variance)", const),
        ("near-constant channel (variance ~1e-12)", near),
    ]


def _constant_row(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    const = x.copy()
    const.reshape(-1, x.shape[-1])[0] = 0.3
    return [("constant row (zero variance)", const)]


EDGE_BUILDERS: dict[str, Callable[[np.ndarray], list[tuple[str, np.ndarray]]]] = {
    "relu": _kinks,
    "leaky_relu": _kinks,
    "elu": lambda x: _kinks(x) + _extremes(x),
    "sigmoid": _extremes,
    "tanh": _extremes,
    "gelu": _extremes,
    "softplus": _extremes,
    "log_softmax": _huge_logits,
    "softmax_cross_entropy": _huge_logits,
    "max_pool2d": _ties,
    "batch_norm": _constant_channel,
    "layer_norm": _constant_row,
}
"""Ops without an entry (conv2d, dense, the average pools, dropout, flatten) are linear in
their differentiable inputs: they have no kinks, ties or overflow to probe."""


def edge_inputs(case, seed: int = 0) -> list[EdgeInput]:
    """The edge inputs of a grid case (``[]`` for ops without a builder)."""
    builder = EDGE_BUILDERS.get(case.op)
    if builder is None:
        return []
    args = case.args(seed)
    x = np.asarray(args[0], dtype=np.float64)
    return [EdgeInput(label, (new_x, *args[1:])) for label, new_x in builder(x)]
