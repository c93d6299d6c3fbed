"""The ``Layer`` record, parameter initialisers and the shape checks every layer shares.

A layer is two pure functions (stax's idea, with state)::

    params, state, out_shape = layer.init(key, in_shape)     # in_shape: one example, no batch
    y, new_state = layer.apply(params, state, x, *, train=False, key=None, ops=cnnjax.ops)

``params`` and ``state`` are dicts of arrays (``{}`` when empty). ``init`` also accepts a
keyword ``dtype=`` for the parameters and state (default: JAX's default float dtype, float64
under ``jax_enable_x64``, else float32).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Layer",
    "he_normal",
    "he_uniform",
    "layer_name",
    "lecun_normal",
    "zeros",
]

Shape = tuple[int, ...]
Initializer = Callable[[jax.Array, Shape, Any], jax.Array]


class Layer(NamedTuple):
    """A layer: ``init(key, in_shape) -> (params, state, out_shape)`` and
    ``apply(params, state, x, *, train=False, key=None, ops=cnnjax.ops) -> (y, new_state)``.

    Both are pure; ``init, apply = layer`` unpacks them. The layer's kind (``"Conv2d"``, ...)
    is the name of the constructor that made it, see :func:`layer_name`.
    """

    init: Callable[..., tuple[Any, Any, Shape]]
    apply: Callable[..., tuple[jax.Array, Any]]


def layer_name(layer: Layer) -> str:
    """The kind of a layer: the name of the constructor whose closures ``init`` is.

    >>> from cnnjax import nn
    >>> layer_name(nn.Conv2d(8, 3)), layer_name(nn.Sequential([nn.Relu()]))
    ('Conv2d', 'Sequential')
    """
    qualname = getattr(layer.init, "__qualname__", type(layer.init).__name__)
    head = qualname.split(".<locals>")[0]
    return head.rsplit(".", 1)[-1]


def default_dtype(dtype: Any = None) -> Any:
    """``dtype`` if given, else JAX's default float dtype (float64 only under x64)."""
    return jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype


def fan_in(shape: Shape) -> int:
    """Inputs feeding one output unit: all axes but the last (HWIO kernels, (In, Out) weights)."""
    return int(np.prod(shape[:-1]))


def he_normal() -> Initializer:
    """He/Kaiming normal, ``N(0, 2 / fan_in)``: PyTorch's ``kaiming_normal_(mode="fan_in",
    nonlinearity="relu")`` (not truncated), the default kernel initialiser of cnnjax.

    >>> import jax
    >>> he_normal()(jax.random.key(0), (3, 3, 2, 4), "float32").shape
    (3, 3, 2, 4)
    """

    def init(key, shape, dtype):
        std = math.sqrt(2.0 / fan_in(shape))
        return std * jax.random.normal(key, shape, dtype)

    return init


def he_uniform() -> Initializer:
    """He/Kaiming uniform, ``U(-b, b)`` with ``b = sqrt(6 / fan_in)`` (same variance as
    :func:`he_normal`): PyTorch's ``kaiming_uniform_(mode="fan_in", nonlinearity="relu")``."""

    def init(key, shape, dtype):
        bound = math.sqrt(6.0 / fan_in(shape))
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def lecun_normal() -> Initializer:
    """LeCun normal, ``N(0, 1 / fan_in)`` (not truncated), for tanh/sigmoid nets."""

    def init(key, shape, dtype):
        std = math.sqrt(1.0 / fan_in(shape))
        return std * jax.random.normal(key, shape, dtype)

    return init


def zeros() -> Initializer:
    """All zeros (the default bias initialiser, as Flax)."""

    def init(key, shape, dtype):
        del key
        return jnp.zeros(shape, dtype)

    return init


def check_in_shape(layer: str, in_shape: Any, rank: int | None, layout: str) -> Shape:
    """Normalise ``in_shape`` (one example, no batch axis) to a tuple of positive ints.

    ``rank=None`` accepts any rank >= 1.
    """
    if not isinstance(in_shape, Sequence) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in in_shape
    ):
        raise TypeError(f"{layer}: `in_shape` must be a tuple of ints {layout}, got {in_shape!r}")
    shape = tuple(int(d) for d in in_shape)
    if (rank is not None and len(shape) != rank) or len(shape) == 0:
        raise ValueError(
            f"{layer}: `in_shape` must be one example's shape {layout} (no batch axis), got {shape}"
        )
    if min(shape) < 1:
        raise ValueError(f"{layer}: `in_shape` must have positive sizes, got {shape}")
    return shape


def check_input(layer: str, x: Any, rank: int | None, layout: str) -> None:
    """Raise a ValueError unless ``x`` is a batch of the right rank (``rank`` includes N)."""
    ndim = jnp.ndim(x)
    if (rank is not None and ndim != rank) or ndim < 2:
        raise ValueError(f"{layer}: input must have shape {layout}, got shape {jnp.shape(x)}")


def check_channels(layer: str, x: Any, expected: int, what: str) -> None:
    """Raise a ValueError unless the last axis of ``x`` has ``expected`` entries."""
    got = jnp.shape(x)[-1]
    if got != expected:
        raise ValueError(
            f"{layer}: input's last axis must have {what}={expected} (as at init), "
            f"got shape {jnp.shape(x)}"
        )


def positive_int(layer: str, name: str, value: Any) -> int:
    """Validate a positive int constructor argument."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: `{name}` must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{layer}: `{name}` must be >= 1, got {value!r}")
    return int(value)


def unit_interval(layer: str, name: str, value: Any, *, closed_right: bool = False) -> float:
    """Validate a float in ``[0, 1)`` (or ``[0, 1]`` when ``closed_right``)."""
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: `{name}` must be a float, got {value!r}")
    ok = 0.0 <= value <= 1.0 if closed_right else 0.0 <= value < 1.0
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{layer}: `{name}` must be in {interval}, got {value!r}")
    return float(value)


def check_ops(layer: str, ops: Any) -> None:
    """Raise a TypeError unless ``ops`` is an op set (``cnnjax.ops``, ``cnnjax.reference``).

    >>> check_ops("Sequential", None)
    Traceback (most recent call last):
    ...
    TypeError: Sequential: `ops` must be an op set such as cnnjax.ops or cnnjax.reference (a module with conv2d, dense, ...), got None
    """  # noqa: E501
    if not all(callable(getattr(ops, name, None)) for name in ("conv2d", "dense", "relu")):
        raise TypeError(
            f"{layer}: `ops` must be an op set such as cnnjax.ops or cnnjax.reference "
            f"(a module with conv2d, dense, ...), got {ops!r}"
        )


def check_tree(layer: str, what: str, tree: Any, names: Sequence[str]) -> None:
    """Raise a ValueError unless ``tree`` is a dict with exactly the entries ``names``.

    ``what`` is ``"params"`` or ``"state"``; a mismatch almost always means the tree was made
    by another model's ``init``.
    """
    if isinstance(tree, dict) and sorted(tree) == sorted(names):
        return
    got = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
    raise ValueError(
        f"{layer}: `{what}` do not belong to this model: expected entries {list(names)}, "
        f"got {got}; pass the {what} that this model's init returned"
    )
