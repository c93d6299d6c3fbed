"""One factory for the parameter-free layers: an op applied to the input, nothing learned.

The activations, the resizing layers, the pools and Flatten differ only in the op they call,
its static keywords and how one example's output shape follows from its input shape;
:func:`op_layer` builds their ``(init, apply)`` pair, so the checks (``in_shape``, the input's
rank, the op set) are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnjax import ops as default_ops
from cnnjax.nn.core import Layer, check_in_shape, check_input, check_ops, default_dtype

__all__ = ["op_layer"]

_LAYOUTS = {None: "(d1, ...)", 3: "(H, W, C)"}


def op_layer(
    kind: str,
    op_name: str,
    out_shape: Callable[[tuple[int, ...], Any], tuple[int, ...]],
    *,
    rank: int | None = None,
    **op_kwargs: Any,
) -> Layer:
    """A parameter-free layer named ``kind`` computing ``ops.<op_name>(x, **op_kwargs)``.

    Args:
      kind: the constructor's name, for messages and :func:`~cnnjax.nn.core.layer_name`.
      op_name: the op's name in the op set (``cnnjax.ops`` or ``cnnjax.reference``).
      out_shape: ``(in_shape, dtype) -> out_shape`` of one example (no batch axis), given the
        validated ``in_shape``; it may raise on a configuration that does not fit.
      rank: one example's rank: ``3`` for NHWC layers (``(H, W, C)``), ``None`` for any.
      **op_kwargs: the op's static keywords.

    Returns:
      A :class:`~cnnjax.nn.core.Layer` with no params or state; ``apply`` checks that ``ops``
      is an op set and that ``x`` is a batch of rank ``rank + 1``.

    >>> import jax, jax.numpy as jnp
    >>> layer = op_layer("Relu", "relu", lambda shape, dtype: shape)
    >>> layer.apply({}, {}, jnp.array([[-1.0, 2.0]]))[0].tolist()
    [[0.0, 2.0]]
    """
    layout = _LAYOUTS[rank]
    batch_rank = None if rank is None else rank + 1

    def init(key, in_shape, *, dtype=None):
        shape = check_in_shape(kind, in_shape, rank, layout)
        return {}, {}, tuple(out_shape(shape, default_dtype(dtype)))

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops(kind, ops)
        check_input(kind, x, batch_rank, f"(N, {layout[1:]}")
        return getattr(ops, op_name)(x, **op_kwargs), state

    init.__qualname__ = f"{kind}.<locals>.init"  # so layer_name() reports the constructor
    apply.__qualname__ = f"{kind}.<locals>.apply"
    return Layer(init, apply)
