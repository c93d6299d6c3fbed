"""Array-like conversion at the public boundary of every op.

Lists, tuples and NumPy arrays become JAX arrays with ``jnp.asarray`` (a no-op on a tracer);
anything ``jnp.asarray`` cannot take is refused with a ``TypeError`` naming the op and the
argument, not the conversion's own message.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from cnnjax.ops._util import check_float


def as_array(op: str, name: str, x: Any) -> jax.Array:
    """``jnp.asarray(x)``, or a TypeError naming ``op`` and ``name`` when it cannot convert."""
    try:
        return jnp.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{op}: `{name}` must be an array or array-like, got {type(x).__name__}"
        ) from err


def as_float_array(op: str, name: str, x: Any) -> jax.Array:
    """``as_array`` then a TypeError unless the result is floating-point.

    >>> as_float_array("relu", "x", [1.0, 2.0]).shape
    (2,)
    """
    x = as_array(op, name, x)
    check_float(op, name, x)
    return x
