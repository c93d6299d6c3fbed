r"""conv2d with one input channel per group, as a sum over kernel taps (used on CPU).

XLA:CPU lowers every convolution to one Eigen kernel: a matrix product contracting the input
channels and the taps. With a single input channel per group (a grayscale first layer, a
depthwise layer) that contraction is only ``KH*KW`` long, or the groups run one by one, and
Eigen crawls. Written as a sum over the taps, the same convolution is one fused elementwise
loop, many times faster there (the measurements: see docs/performance.md).

``conv2d``'s forward pass takes this path when ``C_in/groups == 1`` and
``C_out/groups <= 64`` (:func:`use_taps`), and ``conv2d_grad_input`` when the input gradient is
such a convolution itself (unit stride, one output-gradient channel per group: depthwise with
multiplier 1). Only on CPU: :mod:`cnnjax.ops.conv` chooses with ``lax.platform_dependent``, and
other platforms keep ``lax.conv_general_dilated``.

Not wider: XLA fuses an elementwise producer into each of its consumers, so the sum is
recomputed by the bias add, the pooling or normalisation, and the backward's relu mask. With
one channel per group that costs little; with three (RGB input layers), or as a
column-to-image input gradient for few channels, the whole step got slower for that reason.

With a single input channel and at least 16 taps the sum is written as one matrix product
of the stacked taps (the patch matrix, :func:`use_patch_product`). XLA never fuses a product
into its consumers, so it is computed once (lenet5's 25-tap sum had been recomputed inside
the max pool's reduction), at the cost of the patch matrix in temp memory. For 3x3 kernels
the product lost, so they stay a sum.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from cnnjax.ops._util import acc_dtype
from cnnjax.ops.geometry import WindowGeometry

__all__ = ["tap_sum_conv", "use_patch_product", "use_taps"]

MAX_OUT_PER_GROUP = 64
MIN_PATCH_TAPS = 16  # 5x5 kernels and up; 3x3 (digits_cnn's first layer) stays a tap sum
MAX_PATCH_BYTES = 32 * 2**20  # the patch matrix is temp memory (see docs/performance.md)


def use_taps(kernel_shape: tuple[int, ...], groups: int) -> bool:
    """Whether a ``(KH, KW, C_in/groups, C_out)`` convolution runs as a sum over taps."""
    _, _, c_in_g, c_out = kernel_shape
    return c_in_g == 1 and c_out // groups <= MAX_OUT_PER_GROUP


def _tap_slice(xp: jax.Array, i: int, j: int, geo: WindowGeometry) -> jax.Array:
    """``xp[:, d_h i + s_h o_h, d_w j + s_w o_w, :]`` for every output position ``o``."""
    (sh, sw), (dh, dw), (ho, wo) = geo.stride, geo.dilation, geo.out_hw
    n, _, _, c = xp.shape
    start = (0, i * dh, j * dw, 0)
    limit = (n, i * dh + sh * (ho - 1) + 1, j * dw + sw * (wo - 1) + 1, c)
    return lax.slice(xp, start, limit, (1, sh, sw, 1))


def use_patch_product(kernel_shape: tuple[int, ...], groups: int, patch_bytes: int) -> bool:
    """Whether a one-input-channel convolution runs as one patch-matrix product.

    Only a single group (one input channel), at least :data:`MIN_PATCH_TAPS` taps, and a
    patch matrix of at most :data:`MAX_PATCH_BYTES`.
    """
    kh, kw, c_in_g, _ = kernel_shape
    return (
        groups == 1 and c_in_g == 1 and kh * kw >= MIN_PATCH_TAPS and patch_bytes <= MAX_PATCH_BYTES
    )


# Jitted so that an eager call compiles its many small ops once (inlined under an outer jit).
@functools.partial(jax.jit, static_argnums=(2, 3))
def tap_sum_conv(x: jax.Array, w: jax.Array, geo: WindowGeometry, groups: int) -> jax.Array:
    r"""The convolution of ``x`` with a one-input-channel-per-group ``w``, in ``acc_dtype``.

    ``geo`` gives stride, padding, dilation and the output size ``geo.out_hw``; negative
    padding crops. With ``G = groups``, input channel ``g`` alone feeds output channels
    ``(g, m) = g C_{out}/G + m``:

    .. math::
        Y_{n,o,(g,m)} = \sum_{i,j} X^{pad}_{n,\; s o + d (i,j),\; g}\; W_{i,j,0,(g,m)}

    Each term is a strided slice of the padded input, ``(N, H_out, W_out, G, 1)``, times the
    kernel row ``W[i, j, 0]`` seen as ``(G, C_out/G)``: the whole sum is elementwise.

    With one group and many taps (:func:`use_patch_product`) the same sum is one matrix
    product instead. The slices, stacked, are the patch matrix
    :math:`P_{(i,j),(n,o)} = X^{pad}_{n,\, s o + d (i,j),\, 0}`, ``(KH*KW, N*H_out*W_out)``, and

    .. math::
        Y^\top = W^\top P, \qquad W^\top: (C_{out}, KH \cdot KW),

    transposed back to NHWC. The product is the point: XLA fuses an elementwise sum into
    every consumer (LeNet-5's 25-tap sum was recomputed inside the max pool's reduction, and
    again in the backward's relu mask), but it materialises a product once. ``C_out`` leads
    because Eigen's matrix product with a 6-column result was slower than the fused sum.
    """
    n = x.shape[0]
    kh, kw, _, c_out = w.shape
    g, out_hw = groups, geo.out_hw
    acc = acc_dtype(x.dtype)
    (pt, pb), (pl, pr) = geo.padding
    xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (pt, pb, 0), (pl, pr, 0), (0, 0, 0)))
    patch_bytes = kh * kw * n * out_hw[0] * out_hw[1] * x.dtype.itemsize
    if use_patch_product(w.shape, g, patch_bytes):
        # Stacked row by row: XLA fuses a concatenation of at most 8 operands into the loop
        # that fills it, so (KH, KW, N, H_out, W_out) is written once, by one fused loop.
        patches = jnp.stack(
            [jnp.stack([_tap_slice(xp, i, j, geo)[..., 0] for j in range(kw)]) for i in range(kh)]
        )
        y_t = jnp.einsum("ijc,ijnhw->cnhw", w[:, :, 0, :], patches, preferred_element_type=acc)
        return y_t.transpose(1, 2, 3, 0)
    rows = w.astype(acc).reshape(kh, kw, 1, 1, 1, g, c_out // g)  # broadcast over (N, H, W)
    y = None
    for i in range(kh):
        for j in range(kw):
            xs = _tap_slice(xp, i, j, geo).astype(acc).reshape(n, *out_hw, g, 1)
            term = xs * rows[i, j]
            y = term if y is None else y + term
    return y.reshape(n, *out_hw, c_out)
