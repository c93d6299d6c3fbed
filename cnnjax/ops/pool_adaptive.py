"""Adaptive average/max pooling and global max pooling (NHWC), each a ``jax.custom_vjp``.

Adaptive pooling uses PyTorch's bins: output row ``i`` of ``out`` pools input rows
``[floor(i * H / out), ceil((i + 1) * H / out))`` (bins overlap when ``out`` does not divide
``H``; ``out > H`` repeats rows), and likewise for columns. Average pooling is then separable:
``y = A_H x A_W^T`` with constant bin-averaging matrices, so its VJP is the transposed product
and it keeps no residual. Max pooling routes each bin's cotangent to its first maximum in
row-major window order; a NaN propagates and takes the gradient (its first NaN). It keeps the
flat ``h * W + w`` index of each winner (int32), not the input.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.ops._util import Pair, acc_dtype, check_float, check_rank, pair

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "global_max_pool2d"]


def _check_x(op: str, x) -> jax.Array:
    x = jnp.asarray(x)
    check_rank(op, "x", x, 4, "(N, H, W, C)")
    check_float(op, "x", x)
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{op}: `x` must have H >= 1 and W >= 1, got shape {x.shape}")
    return x


def _bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins ``[floor(i * size / out), ceil((i + 1) * size / out))``."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _mean_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)``: row ``i`` averages bin ``i`` (``1 / len`` on the bin, 0 elsewhere)."""
    a = np.zeros((out, size))
    for i, (s, e) in enumerate(_bins(size, out)):
        a[i, s:e] = 1.0 / (e - s)
    return a


def _bin_max(v, axis: int, size: int, out: int):
    """Max and first argmax (input index, int32) of each adaptive bin along ``axis``, stacked
    there: one fused reduction per bin, so the overlapping windows are never materialised."""
    vals, args = [], []
    for start, stop in _bins(size, out):
        part = jax.lax.slice_in_dim(v, start, stop, axis=axis)
        vals.append(jnp.max(part, axis=axis))
        args.append(start + jnp.argmax(part, axis=axis).astype(jnp.int32))
    return jnp.stack(vals, axis), jnp.stack(args, axis)


# ------------------------------------------------------------------------ adaptive_avg_pool2d


def adaptive_avg_pool2d(x: jax.typing.ArrayLike, output_size: int | Pair) -> jax.Array:
    """Average over PyTorch's adaptive bins (``F.adaptive_avg_pool2d`` on NHWC).

    Args:
      x: floating array ``(N, H, W, C)``, H, W >= 1.
      output_size: static int or ``(H_out, W_out)`` pair, each >= 1 (may exceed H, W).

    Returns:
      ``(N, H_out, W_out, C)`` in ``x``'s dtype (sums in float32 for low precision).

    Raises:
      ValueError: ``x`` not rank 4 or empty in H/W, ``output_size`` < 1.
      TypeError: non-floating ``x``, ``output_size`` not an int or pair of ints.

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(3.0).reshape(1, 3, 1, 1)
    >>> adaptive_avg_pool2d(x, (2, 1)).ravel().tolist()
    [0.5, 1.5]
    """
    x = _check_x("adaptive_avg_pool2d", x)
    out_hw = pair(output_size, "output_size", "adaptive_avg_pool2d")
    return _adaptive_avg_pool2d(x, out_hw, (x.shape[1], x.shape[2]))


def _avg_matrices(out_hw, in_hw, dtype):
    return tuple(jnp.asarray(_mean_matrix(s, o), dtype) for s, o in zip(in_hw, out_hw, strict=True))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _adaptive_avg_pool2d(x, out_hw, in_hw):
    return _adaptive_avg_pool2d_fwd(x, out_hw, in_hw)[0]


def _adaptive_avg_pool2d_fwd(x, out_hw, in_hw):
    acc = acc_dtype(x.dtype)
    a_h, a_w = _avg_matrices(out_hw, in_hw, acc)
    hi = jax.lax.Precision.HIGHEST
    y = jnp.einsum("ih,nhwc,jw->nijc", a_h, x.astype(acc), a_w, precision=hi)
    return y.astype(x.dtype), None


# _adaptive_avg_pool2d_bwd :: (out_hw, in_hw, residuals, ct_y) -> (ct_x,)
def _adaptive_avg_pool2d_bwd(out_hw, in_hw, res: None, ct_y):
    r"""VJP of adaptive_avg_pool2d.

    With :math:`A_H` ``(H_out, H)`` and :math:`A_W` ``(W_out, W)`` the bin-averaging matrices
    (:math:`A_{ih} = 1/|b_i|` for :math:`h` in bin :math:`b_i`), the forward is, per example and
    channel, :math:`Y = A_H X A_W^\top`. It is linear in :math:`X`; with :math:`\bar Y` =
    ``ct_y``,

    .. math::
        \frac{\partial L}{\partial X} = A_H^\top \bar Y A_W,

    i.e. each output's cotangent is spread evenly over its bin and overlapping bins add up.
    The code is that einsum (float32 for low precision); nothing is saved.
    """
    acc = acc_dtype(ct_y.dtype)
    a_h, a_w = _avg_matrices(out_hw, in_hw, acc)
    hi = jax.lax.Precision.HIGHEST
    ct_x = jnp.einsum("ih,nijc,jw->nhwc", a_h, ct_y.astype(acc), a_w, precision=hi)
    return (ct_x.astype(ct_y.dtype),)


_adaptive_avg_pool2d.defvjp(_adaptive_avg_pool2d_fwd, _adaptive_avg_pool2d_bwd)


# ------------------------------------------------------------------------ adaptive_max_pool2d


def adaptive_max_pool2d(x: jax.typing.ArrayLike, output_size: int | Pair) -> jax.Array:
    """Maximum over PyTorch's adaptive bins (``F.adaptive_max_pool2d`` on NHWC).

    Args:
      x: floating array ``(N, H, W, C)``, H, W >= 1.
      output_size: static int or ``(H_out, W_out)`` pair, each >= 1 (may exceed H, W).

    Returns:
      ``(N, H_out, W_out, C)`` in ``x``'s dtype. The gradient of each output goes to the first
      maximum of its bin in row-major order (the first NaN if the bin holds one).

    Raises:
      ValueError: ``x`` not rank 4 or empty in H/W, ``output_size`` < 1.
      TypeError: non-floating ``x``, ``output_size`` not an int or pair of ints.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([3.0, 1.0, 2.0]).reshape(1, 3, 1, 1)
    >>> adaptive_max_pool2d(x, (2, 1)).ravel().tolist()
    [3.0, 2.0]
    """
    x = _check_x("adaptive_max_pool2d", x)
    out_hw = pair(output_size, "output_size", "adaptive_max_pool2d")
    return _adaptive_max_pool2d(x, out_hw, (x.shape[1], x.shape[2]))


class _MaxPoolRes(NamedTuple):
    flat_argmax: jax.Array  # (N, ..., C) int32: h * W + w of each output's winning input cell


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _adaptive_max_pool2d(x, out_hw, in_hw):
    return _adaptive_max_pool2d_fwd(x, out_hw, in_hw)[0]


def _adaptive_max_pool2d_fwd(x, out_hw, in_hw):
    # Row-major first maximum, separably: each row's first maximal column per W bin, then the
    # first row whose maximum is maximal per H bin (that row's column comes with it).
    row_max, col = _bin_max(x, 2, in_hw[1], out_hw[1])  # (N, H, W_out, C)
    y, row = _bin_max(row_max, 1, in_hw[0], out_hw[0])  # (N, H_out, W_out, C)
    return y, _MaxPoolRes(row * in_hw[1] + jnp.take_along_axis(col, row, axis=1))


def _scatter_to_input(ct_y, flat_argmax, in_hw):
    """Add ``ct_y`` ``(N, ..., C)`` into a zero ``(N, H, W, C)`` at the flat ``h * W + w``."""
    n, c = ct_y.shape[0], ct_y.shape[-1]
    ct = ct_y.reshape(n, -1, c)
    idx = flat_argmax.reshape(n, -1, c)
    rows, cols = jnp.arange(n)[:, None, None], jnp.arange(c)[None, None, :]
    ct_x = jnp.zeros((n, in_hw[0] * in_hw[1], c), ct_y.dtype).at[rows, idx, cols].add(ct)
    return ct_x.reshape(n, *in_hw, c)


# _adaptive_max_pool2d_bwd :: (out_hw, in_hw, residuals, ct_y) -> (ct_x,)
def _adaptive_max_pool2d_bwd(out_hw, in_hw, res: _MaxPoolRes, ct_y):
    r"""VJP of adaptive_max_pool2d.

    Output :math:`y_{ij} = x_{a(i,j)}` with :math:`a(i,j)` the first maximum of bin
    :math:`(i, j)` (``res.flat_argmax``); locally the max is that one selection, so with
    :math:`\bar y` = ``ct_y``

    .. math::
        \frac{\partial L}{\partial x_p} = \sum_{(i,j):\,a(i,j) = p} \bar y_{ij},

    overlapping bins that pick the same cell adding up. The code scatter-adds ``ct_y`` into a
    zero input at the saved flat indices.
    """
    return (_scatter_to_input(ct_y, res.flat_argmax, in_hw),)


_adaptive_max_pool2d.defvjp(_adaptive_max_pool2d_fwd, _adaptive_max_pool2d_bwd)


# -------------------------------------------------------------------------- global_max_pool2d


def global_max_pool2d(x: jax.typing.ArrayLike) -> jax.Array:
    """Maximum over H and W: ``(N, H, W, C) -> (N, C)`` (``F.adaptive_max_pool2d(x, 1)``).

    Args:
      x: floating array ``(N, H, W, C)``, H, W >= 1.

    Returns:
      ``(N, C)`` in ``x``'s dtype; the gradient goes to the first maximum in row-major order
      (the first NaN if there is one).

    Raises:
      ValueError: ``x`` not rank 4, or H or W = 0.
      TypeError: non-floating ``x``.

    >>> import jax.numpy as jnp
    >>> global_max_pool2d(jnp.array([1.0, 4.0, 2.0, 4.0]).reshape(1, 2, 2, 1)).tolist()
    [[4.0]]
    """
    x = _check_x("global_max_pool2d", x)
    return _global_max_pool2d(x, (x.shape[1], x.shape[2]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _global_max_pool2d(x, in_hw):
    return _global_max_pool2d_fwd(x, in_hw)[0]


def _global_max_pool2d_fwd(x, in_hw):
    flat_x = x.reshape(x.shape[0], -1, x.shape[3])
    k = jnp.argmax(flat_x, axis=1)  # (N, C): first maximum (first NaN) in row-major order
    y = jnp.take_along_axis(flat_x, k[:, None, :], axis=1)[:, 0, :]
    return y, _MaxPoolRes(k.astype(jnp.int32))


# _global_max_pool2d_bwd :: (in_hw, residuals, ct_y) -> (ct_x,)
def _global_max_pool2d_bwd(in_hw, res: _MaxPoolRes, ct_y):
    r"""VJP of global_max_pool2d.

    :math:`y_{nc} = x_{n, a(n,c), c}` with :math:`a` the first maximum's flat ``h * W + w``
    (``res.flat_argmax``), so with :math:`\bar y` = ``ct_y``,
    :math:`\partial L/\partial x_{npc} = \bar y_{nc}` if :math:`p = a(n, c)`, else 0. The
    code scatters ``ct_y`` into a zero input at those indices.
    """
    return (_scatter_to_input(ct_y, res.flat_argmax, in_hw),)


_global_max_pool2d.defvjp(_global_max_pool2d_fwd, _global_max_pool2d_bwd)
