"""Layers that change the spatial size: ConvTranspose2d, Upsample, Pad2d, adaptive and global
max pooling. Each ``apply`` computes through ``ops.<name>`` only, as in :mod:`cnnjax.nn.layers`.
"""

from __future__ import annotations

from typing import Any

import jax

from cnnjax import ops as default_ops
from cnnjax.nn._op_layer import op_layer
from cnnjax.nn.core import (
    Initializer,
    Layer,
    check_channels,
    check_in_shape,
    check_input,
    check_ops,
    default_dtype,
    he_normal,
    positive_int,
    zeros,
)
from cnnjax.ops.geometry import pair

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "ConvTranspose2d",
    "GlobalMaxPool2d",
    "Pad2d",
    "Upsample",
]


def _out_shape(op_name: str, in_shape, dtype, **kwargs) -> tuple[int, ...]:
    """The op's output shape for one example, traced abstractly (no compute, no compile)."""
    x = jax.ShapeDtypeStruct((1, *in_shape), dtype)
    out = jax.eval_shape(lambda a: getattr(default_ops, op_name)(a, **kwargs), x)
    return tuple(out.shape[1:])


def ConvTranspose2d(
    features: int,
    kernel_size: Any,
    *,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    use_bias: bool = True,
    kernel_init: Initializer | None = None,
    bias_init: Initializer | None = None,
) -> Layer:
    """Transposed convolution via ``ops.conv_transpose2d`` (PyTorch's ``ConvTranspose2d``).

    Params ``{"w": (KH, KW, features/groups, C_in), "b": (features,)}``: ``w`` is the HWIO
    kernel of the ``conv2d`` (``features -> C_in``) whose input gradient this layer computes.
    ``in_shape (H, W, C_in) -> (H_out, W_out, features)`` with
    ``H_out = (H - 1) * s - (p_top + p_bottom) + d * (KH - 1) + output_padding + 1``.

    >>> import jax
    >>> layer = ConvTranspose2d(4, 2, stride=2)
    >>> params, _, out_shape = layer.init(jax.random.key(0), (3, 5, 6))
    >>> params["w"].shape, out_shape
    ((2, 2, 4, 6), (6, 10, 4))
    """
    features = positive_int("ConvTranspose2d", "features", features)
    kernel = pair(kernel_size, "kernel_size", "ConvTranspose2d")
    groups = positive_int("ConvTranspose2d", "groups", groups)
    if features % groups:
        raise ValueError(
            f"ConvTranspose2d: `features`={features} must be divisible by `groups`={groups}"
        )
    op_kwargs = dict(
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )
    kernel_init = kernel_init or he_normal()
    bias_init = bias_init or zeros()

    def init(key, in_shape, *, dtype=None):
        h, w, c = check_in_shape("ConvTranspose2d", in_shape, 3, "(H, W, C)")
        if c % groups:
            raise ValueError(
                f"ConvTranspose2d: input channels C={c} must be divisible by groups={groups}"
            )
        dtype = default_dtype(dtype)
        w_key, b_key = jax.random.split(key)
        params = {"w": kernel_init(w_key, (*kernel, features // groups, c), dtype)}
        w_struct = jax.ShapeDtypeStruct(params["w"].shape, dtype)
        x_struct = jax.ShapeDtypeStruct((1, h, w, c), dtype)
        out = jax.eval_shape(
            lambda x, k: default_ops.conv_transpose2d(x, k, **op_kwargs), x_struct, w_struct
        )
        if use_bias:
            params["b"] = bias_init(b_key, (features,), dtype)
        return params, {}, tuple(out.shape[1:])

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("ConvTranspose2d", ops)
        check_input("ConvTranspose2d", x, 4, "(N, H, W, C)")
        check_channels("ConvTranspose2d", x, params["w"].shape[3], "C")
        return ops.conv_transpose2d(x, params["w"], params.get("b"), **op_kwargs), state

    return Layer(init, apply)


def _shape_op(kind: str, op_name: str, **op_kwargs) -> Layer:
    """An NHWC layer applying ``ops.<op_name>(x, **op_kwargs)``; its shape traced from the op."""

    def out_shape(shape, dtype):
        return _out_shape(op_name, shape, dtype, **op_kwargs)

    return op_layer(kind, op_name, out_shape, rank=3, **op_kwargs)


def Upsample(
    *, size: Any = None, scale_factor: Any = None, mode: str = "nearest", align_corners=False
) -> Layer:
    """Resize H and W via ``ops.upsample2d`` (PyTorch's ``nn.Upsample``).

    >>> import jax
    >>> Upsample(scale_factor=2, mode="bilinear").init(jax.random.key(0), (3, 4, 2))[2]
    (6, 8, 2)
    """
    kwargs: dict[str, Any] = dict(mode=mode)
    if mode != "nearest" or align_corners:
        kwargs["align_corners"] = align_corners
    if size is not None:
        kwargs["size"] = size
    if scale_factor is not None:
        kwargs["scale_factor"] = scale_factor
    return _shape_op("Upsample", "upsample2d", **kwargs)


def Pad2d(padding: Any, *, mode: str = "constant", value: float = 0.0) -> Layer:
    """Pad H and W via ``ops.pad2d``: ``"constant"``, ``"reflect"``, ``"replicate"``,
    ``"circular"`` (PyTorch's ``F.pad`` on NHWC).

    >>> import jax
    >>> Pad2d((1, 2), mode="reflect").init(jax.random.key(0), (4, 5, 3))[2]
    (6, 9, 3)
    """
    return _shape_op("Pad2d", "pad2d", padding=padding, mode=mode, value=value)


def AdaptiveAvgPool2d(output_size: Any) -> Layer:
    """Average over PyTorch's adaptive bins to ``output_size`` via ``ops.adaptive_avg_pool2d``.

    >>> import jax
    >>> AdaptiveAvgPool2d((2, 3)).init(jax.random.key(0), (7, 5, 4))[2]
    (2, 3, 4)
    """
    return _shape_op("AdaptiveAvgPool2d", "adaptive_avg_pool2d", output_size=output_size)


def AdaptiveMaxPool2d(output_size: Any) -> Layer:
    """Max over PyTorch's adaptive bins to ``output_size`` via ``ops.adaptive_max_pool2d``."""
    return _shape_op("AdaptiveMaxPool2d", "adaptive_max_pool2d", output_size=output_size)


def GlobalMaxPool2d() -> Layer:
    """Max over H and W via ``ops.global_max_pool2d``: ``in_shape (H, W, C) -> (C,)``."""
    return _shape_op("GlobalMaxPool2d", "global_max_pool2d")
