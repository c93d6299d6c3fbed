"""Per-example normalisation layers: GroupNorm and InstanceNorm (no running statistics).

Both normalise each example on its own, so training and evaluation compute the same thing
and the layers carry no state. ``apply`` computes through ``ops.group_norm`` /
``ops.instance_norm`` only.
"""

from __future__ import annotations

import jax.numpy as jnp

from cnnjax import ops as default_ops
from cnnjax.nn.core import (
    Layer,
    check_channels,
    check_in_shape,
    check_input,
    check_ops,
    default_dtype,
    positive_int,
)

__all__ = ["GroupNorm", "InstanceNorm"]


def _affine(c: int, dtype, affine: bool) -> dict:
    return {"scale": jnp.ones((c,), dtype), "bias": jnp.zeros((c,), dtype)} if affine else {}


def GroupNorm(num_groups: int, *, eps: float = 1e-5, affine: bool = True) -> Layer:
    """Group normalisation via ``ops.group_norm`` (PyTorch's ``nn.GroupNorm``).

    Statistics per example over every non-batch axis and the ``C / num_groups`` channels of
    each group. Params ``{"scale": (C,), "bias": (C,)}`` (``{}`` with ``affine=False``);
    state ``{}``; shape-preserving.

    >>> import jax
    >>> params, state, out_shape = GroupNorm(2).init(jax.random.key(0), (4, 4, 6))
    >>> params["scale"].shape, state, out_shape
    ((6,), {}, (4, 4, 6))
    """
    num_groups = positive_int("GroupNorm", "num_groups", num_groups)

    def init(key, in_shape, *, dtype=None):
        shape = check_in_shape("GroupNorm", in_shape, None, "(..., C)")
        if shape[-1] % num_groups:
            raise ValueError(
                f"GroupNorm: channels C={shape[-1]} must be divisible by num_groups={num_groups}"
            )
        return _affine(shape[-1], default_dtype(dtype), affine), {}, shape

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("GroupNorm", ops)
        check_input("GroupNorm", x, None, "(N, ..., C)")
        if affine:
            check_channels("GroupNorm", x, params["scale"].shape[0], "C")
        scale, bias = params.get("scale"), params.get("bias")
        return ops.group_norm(x, scale, bias, num_groups=num_groups, eps=eps), state

    return Layer(init, apply)


def InstanceNorm(*, eps: float = 1e-5, affine: bool = True) -> Layer:
    """Instance normalisation via ``ops.instance_norm``: GroupNorm with one group per channel.

    Note PyTorch's ``nn.InstanceNorm2d`` defaults to ``affine=False``; here ``affine=True``
    as for the other normalisation layers — pass ``affine=False`` for PyTorch's default.

    >>> import jax
    >>> InstanceNorm(affine=False).init(jax.random.key(0), (3, 3, 2))
    ({}, {}, (3, 3, 2))
    """

    def init(key, in_shape, *, dtype=None):
        shape = check_in_shape("InstanceNorm", in_shape, None, "(..., C)")
        return _affine(shape[-1], default_dtype(dtype), affine), {}, shape

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("InstanceNorm", ops)
        check_input("InstanceNorm", x, None, "(N, ..., C)")
        scale, bias = params.get("scale"), params.get("bias")
        return ops.instance_norm(x, scale, bias, eps=eps), state

    return Layer(init, apply)
