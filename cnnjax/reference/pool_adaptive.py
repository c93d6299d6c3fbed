"""Reference adaptive and global pooling: one slice per output cell, differentiated by JAX.

Same signatures as ``cnnjax.ops``. Each output cell is computed from its own slice of the
input, ``[floor(i * H / out), ceil((i + 1) * H / out))`` (PyTorch's bins), and the cells are
stacked. Max picks with ``jnp.argmax`` + ``take_along_axis`` so that autodiff routes the
gradient to the first maximum (the first NaN), the DESIGN's rule (``jnp.max`` would split ties).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _sizes(output_size):
    return (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)


def _first_max(window):
    """``window`` ``(N, P, C)`` -> ``(N, C)``: the first maximal entry along P."""
    k = jnp.argmax(window, axis=1)
    return jnp.take_along_axis(window, k[:, None, :], axis=1)[:, 0, :]


def _pool(x, output_size, cell):
    n, h, w, c = x.shape
    oh, ow = _sizes(output_size)
    rows = []
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        row = []
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            row.append(cell(x[:, h0:h1, w0:w1, :].reshape(n, -1, c)))
        rows.append(jnp.stack(row, axis=1))
    return jnp.stack(rows, axis=1)


def adaptive_avg_pool2d(x, output_size) -> jax.Array:
    """Mean of each adaptive bin of ``x`` ``(N, H, W, C)`` (float32 for low precision)."""
    x = jnp.asarray(x)
    acc = jnp.float32 if x.dtype.itemsize < 4 else x.dtype
    return _pool(x.astype(acc), output_size, lambda v: jnp.mean(v, axis=1)).astype(x.dtype)


def adaptive_max_pool2d(x, output_size) -> jax.Array:
    """First maximum of each adaptive bin of ``x`` ``(N, H, W, C)``."""
    return _pool(jnp.asarray(x), output_size, _first_max)


def global_max_pool2d(x) -> jax.Array:
    """First maximum over H and W: ``(N, H, W, C) -> (N, C)``."""
    x = jnp.asarray(x)
    return _first_max(x.reshape(x.shape[0], -1, x.shape[3]))
