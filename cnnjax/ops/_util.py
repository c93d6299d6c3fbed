"""Shared validation and normalisation for the ops' static configuration.

Every public op validates at its boundary, from static shapes, so errors surface at the call
(also under ``jit``) with a message naming the op, the argument, what was expected and what
came. These helpers take the op and argument names for exactly that purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

Pair = tuple[int, int]
Padding2D = tuple[tuple[int, int], tuple[int, int]]

FLOAT_DTYPES = (jnp.float64, jnp.float32, jnp.bfloat16, jnp.float16)


def pair(value: Any, name: str, op: str, *, minimum: int = 1) -> Pair:
    """Normalise an int or an ``(h, w)`` pair of ints to a pair, each ``>= minimum``.

    >>> pair(2, "stride", "conv2d")
    (2, 2)
    >>> pair((1, 3), "dilation", "conv2d")
    (1, 3)
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: `{name}` must be an int or a pair of ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        result = (int(value), int(value))
    elif (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: `{name}` must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{op}: `{name}` must be >= {minimum} in each dimension, got {value!r}")
    return result


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def padding_2d(
    padding: Any,
    op: str,
    *,
    in_hw: Pair,
    window_hw: Pair,
    stride: Pair,
) -> Padding2D:
    """Normalise any of the five padding forms to explicit ``((top, bottom), (left, right))``.

    Forms: ``"VALID"``; ``"SAME"`` (output ``ceil(H / s)``, the odd extra pad at the end, as in
    ``lax``); an int (all sides); an ``(h, w)`` pair (symmetric); ``((t, b), (l, r))``.
    ``window_hw`` is the *effective* window (dilation applied), ``d * (k - 1) + 1``.

    >>> padding_2d("SAME", "conv2d", in_hw=(5, 6), window_hw=(2, 3), stride=(2, 2))
    ((0, 1), (0, 1))
    >>> padding_2d((1, 2), "conv2d", in_hw=(5, 6), window_hw=(3, 3), stride=(1, 1))
    ((1, 1), (2, 2))
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            pads = []
            for size, k, s in zip(in_hw, window_hw, stride, strict=True):
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads.append((total // 2, total - total // 2))
            return (pads[0], pads[1])
        raise ValueError(
            f"{op}: unknown `padding` {padding!r}; expected 'VALID', 'SAME', an int, "
            "an (h, w) pair or ((top, bottom), (left, right))"
        )
    if _is_int(padding):
        p = int(padding)
        result = ((p, p), (p, p))
    elif isinstance(padding, Sequence) and len(padding) == 2 and all(_is_int(v) for v in padding):
        result = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == 2
        and all(
            isinstance(v, Sequence) and len(v) == 2 and all(_is_int(e) for e in v) for v in padding
        )
    ):
        result = (
            (int(padding[0][0]), int(padding[0][1])),
            (int(padding[1][0]), int(padding[1][1])),
        )
    else:
        raise TypeError(
            f"{op}: `padding` must be 'VALID', 'SAME', an int, an (h, w) pair or "
            f"((top, bottom), (left, right)), got {padding!r}"
        )
    if min(min(result[0]), min(result[1])) < 0:
        raise ValueError(f"{op}: `padding` must be non-negative, got {padding!r}")
    return result


def out_size(size: int, pad: tuple[int, int], window: int, stride: int) -> int:
    """``(size + pad_lo + pad_hi - window) // stride + 1`` for an effective ``window``."""
    return (size + pad[0] + pad[1] - window) // stride + 1


def check_window_fits(op: str, in_hw: Pair, pads: Padding2D, window_hw: Pair, what: str) -> None:
    """Raise when the (effective) window is larger than the padded input."""
    for axis, size, pad, k in zip("HW", in_hw, pads, window_hw, strict=True):
        padded = size + pad[0] + pad[1]
        if k > padded:
            raise ValueError(
                f"{op}: {what} {window_hw} is larger than the padded input "
                f"({axis}: {size} + padding {pad} = {padded} < {k})"
            )


def check_rank(op: str, name: str, x: Any, rank: int, layout: str) -> None:
    """Raise unless ``x`` has ``rank`` dimensions (``layout`` names them, e.g. ``(N, H, W, C)``)."""
    if jnp.ndim(x) != rank:
        raise ValueError(f"{op}: `{name}` must have rank {rank} {layout}, got shape {jnp.shape(x)}")


def check_float(op: str, name: str, x: Any) -> None:
    """Raise a TypeError unless ``x`` is an array of a floating dtype."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{op}: `{name}` must be a floating-point array, got dtype {dtype}")


def check_same_dtype(op: str, names: Sequence[str], *arrays: Any) -> None:
    """Raise a TypeError unless all (non-None) arrays share one dtype."""
    present = [(n, jnp.result_type(a)) for n, a in zip(names, arrays, strict=True) if a is not None]
    if len({d for _, d in present}) > 1:
        got = ", ".join(f"`{n}` {d}" for n, d in present)
        raise TypeError(f"{op}: arrays must share one dtype, got {got}")


def acc_dtype(dtype: Any) -> Any:
    """Accumulation dtype: float32 for low-precision floats, else the dtype itself."""
    dtype = jnp.dtype(dtype)
    return jnp.dtype(jnp.float32) if dtype.itemsize < 4 else dtype
