"""Reference padding: ``jnp.pad`` (modes constant, reflect, edge, wrap), differentiated by JAX.

Same signature as ``cnnjax.ops.pad2d`` and nothing shared with it; negative constant pads crop
by plain slicing first. Validation is the op's job: the yardstick assumes valid arguments.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_JNP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _four(padding):
    """``padding`` as ``((top, bottom), (left, right))``."""
    if np.ndim(padding) == 0:
        p = int(padding)
        return ((p, p), (p, p))
    if np.ndim(padding) == 1:
        return ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
    return tuple((int(a), int(b)) for a, b in padding)


def pad2d(x: Any, padding: Any, *, mode: str = "constant", value: float = 0.0) -> jax.Array:
    """``F.pad`` on the H and W axes of an NHWC ``x``, via ``jnp.pad``."""
    x = jnp.asarray(x)
    (t, b), (l, r) = _four(padding)
    h, w = x.shape[1:3]
    x = x[:, max(-t, 0) : h - max(-b, 0), max(-l, 0) : w - max(-r, 0), :]  # negative pads crop
    widths = ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0))
    if mode == "constant":
        return jnp.pad(x, widths, mode="constant", constant_values=jnp.asarray(value, x.dtype))
    return jnp.pad(x, widths, mode=_JNP_MODE[mode])
