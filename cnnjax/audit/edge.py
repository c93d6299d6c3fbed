"""Edge inputs for check 7, keyed by op name: kinks, ties, extreme values, zero variance.

The case grid keeps its random inputs off kinks and ties (so finite differences and
``jax.vjp`` are well defined); these inputs sit exactly on them. ``check_vjp`` asserts that
outputs and gradients stay finite there (float64 and every audited dtype) and that in float64
they equal the reference's, i.e. the documented convention: relu'(0) = 0, relu6'(0) =
relu6'(6) = 0, max pooling routes a window's cotangent to its first maximum, to its first NaN,
and to its first real cell when all real cells are -inf (padding is never selected), batch
norm of a constant channel is finite. An input holding NaN or -inf is built with
``finite_output=False``: its output may be NaN/-inf (equal to the reference's, entry by
entry), its gradients must still be finite. ``docs/conventions.md`` lists every convention.

Each builder takes the case's first argument (a float64 NumPy array ``x``) and returns
``(label, new_x)`` pairs; the other arguments stay as the case made them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

HUGE = 1e4  # large enough to overflow a naive exp in float32/bfloat16, finite in all three


class EdgeInput(NamedTuple):
    """An edge input for ``check_vjp(..., edge_inputs=[...])``.

    Attributes:
      label: what is special about it, e.g. ``"exact kinks"``; appears in the report.
      args: all positional arguments, as for the audited function.
      finite_output: whether the output must be finite too (the gradients always must);
        ``False`` for inputs whose output is NaN or -inf by the convention, e.g. a max-pooling
        window holding NaN. Non-finite outputs must then equal the reference's exactly.
    """

    label: str
    args: tuple[Any, ...]
    finite_output: bool = True


def as_edge_inputs(items: Sequence[EdgeInput | tuple]) -> list[EdgeInput]:
    """Accept ``EdgeInput``s or bare argument tuples (labelled ``edge0``, ``edge1``, ...)."""
    out = []
    for k, item in enumerate(items):
        if isinstance(item, EdgeInput):
            out.append(EdgeInput(item.label, tuple(item.args), bool(item.finite_output)))
        elif isinstance(item, (tuple, list)):
            out.append(EdgeInput(f"edge{k}", tuple(item)))
        else:
            raise TypeError(
                f"check_vjp: `edge_inputs[{k}]` must be an EdgeInput or a tuple "
                f"of arguments, got {type(item).__name__}"
            )
    return out


def same_nonfinite(got: Any, want: Any) -> tuple[Any, Any]:
    """The leaves of ``got`` and ``want`` (lists of float64 arrays) with 0 where both hold the
    same NaN or infinity, so a compare counts those equal and still fails on a non-finite
    entry in one alone. Pytrees of different structure or shapes come back unchanged, for
    the compare to report."""
    got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
    shapes = [np.shape(a) for a in got_leaves]
    if len(got_leaves) != len(want_leaves) or shapes != [np.shape(a) for a in want_leaves]:
        return got, want
    out_got, out_want = [], []
    for g, w in zip(got_leaves, want_leaves, strict=True):
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        same = (np.isnan(g) & np.isnan(w)) | (np.isinf(g) & (g == w))
        out_got.append(np.where(same, 0.0, g))
        out_want.append(np.where(same, 0.0, w))
    return out_got, out_want


def _kinks(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every other element exactly at the kink 0."""
    flat = x.reshape(-1).copy()
    flat[::2] = 0.0
    return [("exact kinks (x = 0)", flat.reshape(x.shape))]


def _kinks_at(*kinks: float) -> Callable[[np.ndarray], list[tuple[str, np.ndarray]]]:
    """Elements ``0, 1, ...`` (mod ``len(kinks) + 1``) exactly at ``kinks[0], kinks[1], ...``."""

    def build(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        flat = x.reshape(-1).copy()
        for k, at in enumerate(kinks):
            flat[k :: len(kinks) + 1] = at
        where = ", ".join(f"{at:g}" for at in kinks)
        return [(f"exact kinks (x = {where})", flat.reshape(x.shape))]

    return build


def _nan(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every fourth element NaN: it propagates, and so does its cotangent."""
    flat = x.reshape(-1).copy()
    flat[::4] = np.nan
    return [("NaN inputs (propagate)", flat.reshape(x.shape))]


def _extremes(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Signs of ``x`` at +-1e4, plus 0."""
    flat = np.where(x.reshape(-1) >= 0, HUGE, -HUGE)
    flat[::3] = 0.0
    return [(f"extremes (+-{HUGE:g})", flat.reshape(x.shape))]


def _huge_logits(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [(f"huge logits (x {HUGE:g})", x * HUGE), ("all logits tied", np.zeros_like(x))]


def _ties(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [("all windows tied (zeros)", np.zeros_like(x)), ("partial ties", np.round(x * 2) / 2)]


def _max_windows(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Max-pooling windows on each convention: ties, -inf windows, NaN windows."""
    flat = x.reshape(-1)
    half_inf, one_nan, nans = flat.copy(), flat.copy(), flat.copy()
    half_inf[: flat.size // 2] = -np.inf  # whole -inf windows beside mixed ones
    one_nan[::7] = np.nan  # windows with none, one, or a NaN beside a larger value
    nans[1::3] = np.nan  # windows with several NaNs
    return _ties(x) + [
        ("all -inf (first real cell, never padding)", np.full_like(x, -np.inf)),
        ("first half -inf", half_inf.reshape(x.shape)),
        ("sparse NaN (first NaN)", one_nan.reshape(x.shape)),
        ("several NaN per window (first NaN)", nans.reshape(x.shape)),
    ]


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
    "relu": lambda x: _kinks(x) + _nan(x),
    "relu6": lambda x: _kinks_at(0.0, 6.0)(x) + _nan(x),
    "hardswish": _kinks_at(-3.0, 3.0),
    "leaky_relu": _kinks,
    "prelu": _kinks,
    "elu": lambda x: _kinks(x) + _extremes(x),
    "sigmoid": _extremes,
    "tanh": _extremes,
    "gelu": _extremes,
    "softplus": _extremes,
    "log_softmax": _huge_logits,
    "softmax": _huge_logits,
    "silu": _extremes,
    "softmax_cross_entropy": _huge_logits,
    "max_pool2d": _max_windows,
    "adaptive_max_pool2d": _max_windows,
    "global_max_pool2d": _max_windows,
    "batch_norm": _constant_channel,
    "instance_norm": _constant_channel,
    "layer_norm": _constant_row,
}
"""Kinks follow PyTorch's backward: relu, relu6 and hardswish give the derivative of the
constant or identity piece at a kink (relu'(0) = relu6'(0) = relu6'(6) = 0, hardswish' = 0 at
-3 and 1 at 3), elu, leaky_relu and prelu that of the ``x <= 0`` piece (alpha or the slope at
0). Ops without an entry are linear in their differentiable inputs (conv2d, dense, the
average pools, pad2d, upsample2d, dropout, flatten), smooth with nothing to overflow
(mse_loss, batch_norm_inference), or not yet probed here (group_norm)."""


def edge_inputs(case, seed: int = 0) -> list[EdgeInput]:
    """The edge inputs of a grid case (``[]`` for ops without a builder)."""
    builder = EDGE_BUILDERS.get(case.op)
    if builder is None:
        return []
    args = case.args(seed)
    x = np.asarray(args[0], dtype=np.float64)
    return [
        EdgeInput(label, (new_x, *args[1:]), bool(np.isfinite(new_x).all()))
        for label, new_x in builder(x)
    ]
