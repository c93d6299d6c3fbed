"""Window max and first-max offset for ``max_pool2d``'s forward pass.

One rule, two lowerings. The rule orders a window's cells by value, NaN above everything,
an input cell above a padded one of equal value (so a window of -inf input cells picks its
first input cell, never padding), then the lower row-major offset: the first maximum.

Small windows stack their offsets and run one variadic ``lax.reduce``: XLA:CPU fuses a
concatenate of at most 8 operands into its consumer and materialises the reduction's outputs,
so the backward pass reads the int8 argmax instead of re-fusing the forward's comparisons
(and keeping the pooled input alive to recompute them). Larger windows run an elementwise
chain of ``where`` (a stack of 9+ slices would be materialised whole). The measurements are
in docs/performance.md. The variadic reduce has no JVP rule of its own, so it carries a
``custom_jvp`` (a second derivation, audited by its own test in tests/ops/test_pool.py).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnjax.ops._windows import pad, real_cells, window_slices
from cnnjax.ops.geometry import WindowGeometry

__all__ = ["index_dtype", "max_and_argmax"]

STACKED_MAX_WINDOW = 8  # XLA:CPU fuses a concatenate of at most 8 operands into its consumer


def index_dtype(cells: int) -> Any:
    """The smallest signed integer dtype holding a window offset ``< cells``.

    The stacked path's padded keys reach ``2 * cells - 1 <= 15``: still int8.
    """
    return jnp.int8 if cells <= 127 else jnp.int16 if cells <= 32767 else jnp.int32


def max_and_argmax(x: jax.Array, geo: WindowGeometry) -> tuple[jax.Array, jax.Array]:
    """``(y, argmax)``, both ``(N, H_out, W_out, C)``: each window's max and first-max offset.

    ``argmax`` is the row-major offset ``kh * KW + kw`` of the window's first maximum under
    the rule of this module. A window with no input cell at all (possible only with dilation)
    outputs -inf and an offset that no input cell has, so its cotangent goes nowhere.
    """
    xp = pad(x, geo.pads, -jnp.inf)
    slices = [xk for _, xk in window_slices(xp, geo)]
    real = real_cells(geo)
    cells = len(slices)
    dtype = index_dtype(cells)
    if cells <= STACKED_MAX_WINDOW:
        stacked = jnp.stack(slices, axis=-1)
        if real is None:
            keys = lax.broadcasted_iota(dtype, stacked.shape, stacked.ndim - 1)
        else:  # a padded cell's key is its offset + cells: it loses every tie to an input cell
            offsets = np.arange(cells)[:, None, None] + cells * ~real
            keys = jnp.broadcast_to(
                jnp.asarray(offsets.transpose(1, 2, 0)[None, :, :, None], dtype), stacked.shape
            )
        return stacked_first_max(stacked, keys)
    best, index = slices[0], jnp.zeros(slices[0].shape, dtype)
    best_real = None if real is None else jnp.asarray(real[0][None, :, :, None])
    for k, xk in enumerate(slices[1:], start=1):
        take = (xk > best) | (jnp.isnan(xk) & ~jnp.isnan(best))
        if real is not None:
            real_k = jnp.asarray(real[k][None, :, :, None])
            take = take | ((xk == best) & real_k & ~best_real)
            best_real = jnp.where(take, real_k, best_real)
        index = jnp.where(take, jnp.asarray(k, dtype), index)
        best = jnp.where(take, xk, best)
    return best, index


def _first_max(a, b):
    """Reducer: the larger ``(value, key)`` pair, NaN above all, ties to the lower key.

    A total order's maximum, hence associative and commutative as ``lax.reduce`` requires.
    """
    (av, ai), (bv, bi) = a, b
    a_nan, b_nan = jnp.isnan(av), jnp.isnan(bv)
    same = (av == bv) | (a_nan & b_nan)
    take_b = (bv > av) | (b_nan & ~a_nan) | (same & (bi < ai))
    return jnp.where(take_b, bv, av), jnp.where(take_b, bi, ai)


@jax.custom_jvp
def stacked_first_max(stacked: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Max over the last axis of ``stacked`` and the key of its first maximum.

    ``keys`` (an integer array shaped like ``stacked``) ranks equal values: the lower key
    wins. One variadic ``lax.reduce``.
    """
    axis = stacked.ndim - 1
    # (-inf, largest key) is the identity: every real pair beats it.
    top = jnp.array(jnp.iinfo(keys.dtype).max, keys.dtype)
    init = (jnp.array(-jnp.inf, stacked.dtype), top)
    return tuple(lax.reduce((stacked, keys), init, _first_max, (axis,)))


@stacked_first_max.defjvp
def _stacked_first_max_jvp(primals, tangents):
    r"""JVP of :func:`stacked_first_max` (``lax.reduce`` with a custom reducer has none).

    :math:`y = s_a` with the winning cell :math:`a` locally constant, so
    :math:`\dot y = \dot s_a`; the integer key has a zero (``float0``) tangent. The code
    selects, per offset, the tangent of the cell whose key won.
    """
    (stacked, keys), (dot, _) = primals, tangents
    y, key = stacked_first_max(stacked, keys)
    zero = jnp.zeros((), dot.dtype)
    dot_y = sum(jnp.where(key == keys[..., k], dot[..., k], zero) for k in range(stacked.shape[-1]))
    return (y, key), (dot_y, np.zeros(key.shape, jax.dtypes.float0))
