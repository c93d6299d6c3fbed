"""Parametric and pooling layers: Conv2d, Dense, pools, BatchNorm, LayerNorm, Dropout, Flatten.

Every ``apply`` computes through ``ops.<name>`` only (``ops=cnnjax.ops`` for the hand VJPs,
``ops=cnnjax.reference`` for JAX autodiff), so one network runs either way. The one piece of
plain ``jax.numpy`` is BatchNorm's eval-mode affine map with the running statistics, which no
op covers. Shapes flow through ``init``: Dense reads ``In`` from ``in_shape``, Flatten computes
its size, so no flattened size is ever written by hand.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from cnnjax import ops as default_ops
from cnnjax.nn.core import (
    Initializer,
    Layer,
    check_channels,
    check_in_shape,
    check_input,
    default_dtype,
    he_normal,
    positive_int,
    unit_interval,
    zeros,
)
from cnnjax.ops.geometry import padding_2d, pair, window_geometry

__all__ = [
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "LayerNorm",
    "MaxPool2d",
]


_PADDING_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def Conv2d(
    features: int,
    kernel_size: Any,
    *,
    stride: Any = 1,
    padding: Any = "SAME",
    dilation: Any = 1,
    groups: int = 1,
    use_bias: bool = True,
    padding_mode: str = "zeros",
    kernel_init: Initializer | None = None,
    bias_init: Initializer | None = None,
) -> Layer:
    """2-D convolution over NHWC inputs with an HWIO kernel, via ``ops.conv2d``.

    Args:
      features: output channels ``C_out`` (divisible by ``groups``).
      kernel_size: int or ``(KH, KW)``.
      stride, padding, dilation, groups: as ``cnnjax.ops.conv2d`` (padding defaults to SAME).
      use_bias: add a ``(C_out,)`` bias ``b``.
      padding_mode: ``"zeros"`` (the convolution's own padding), or ``"reflect"``,
        ``"replicate"``, ``"circular"`` (PyTorch's ``padding_mode``): the padding is then
        applied by ``ops.pad2d`` in that mode and the convolution runs unpadded.
      kernel_init: defaults to :func:`~cnnjax.nn.core.he_normal` (fan_in = KH*KW*C_in/groups).
      bias_init: defaults to zeros.

    Params ``{"w": (KH, KW, C/groups, C_out), "b": (C_out,)}``; state ``{}``.
    ``in_shape (H, W, C) -> (H_out, W_out, C_out)``, ``H_out = (H + p_top + p_bottom -
    d*(KH-1) - 1) // s + 1``.

    >>> import jax
    >>> params, state, out_shape = Conv2d(4, 3, stride=2).init(jax.random.key(0), (7, 5, 2))
    >>> params["w"].shape, params["b"].shape, out_shape
    ((3, 3, 2, 4), (4,), (4, 3, 4))
    """
    features = positive_int("Conv2d", "features", features)
    kernel = pair(kernel_size, "kernel_size", "Conv2d")
    stride = pair(stride, "stride", "Conv2d")
    dilation = pair(dilation, "dilation", "Conv2d")
    groups = positive_int("Conv2d", "groups", groups)
    if features % groups:
        raise ValueError(f"Conv2d: `features`={features} must be divisible by `groups`={groups}")
    kernel_init = kernel_init or he_normal()
    bias_init = bias_init or zeros()
    effective = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
    if padding_mode not in _PADDING_MODES:
        raise ValueError(
            f"Conv2d: unknown `padding_mode` {padding_mode!r}; expected one of "
            f"{sorted(_PADDING_MODES)}"
        )

    def init(key, in_shape, *, dtype=None):
        h, w, c = check_in_shape("Conv2d", in_shape, 3, "(H, W, C)")
        if c % groups:
            raise ValueError(f"Conv2d: input channels C={c} must be divisible by groups={groups}")
        geo = window_geometry(
            "Conv2d",
            (h, w),
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            what="dilated kernel",
        )
        dtype = default_dtype(dtype)
        w_key, b_key = jax.random.split(key)
        params = {"w": kernel_init(w_key, (*kernel, c // groups, features), dtype)}
        if use_bias:
            params["b"] = bias_init(b_key, (features,), dtype)
        return params, {}, (*geo.out_hw, features)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("Conv2d", x, 4, "(N, H, W, C)")
        check_channels("Conv2d", x, params["w"].shape[2] * groups, "C")
        conv_padding = padding
        if padding_mode != "zeros":
            in_hw = (x.shape[1], x.shape[2])
            pads = padding_2d(padding, "Conv2d", in_hw=in_hw, window_hw=effective, stride=stride)
            x = ops.pad2d(x, pads, mode=_PADDING_MODES[padding_mode])
            conv_padding = "VALID"
        y = ops.conv2d(
            x,
            params["w"],
            params.get("b"),
            stride=stride,
            padding=conv_padding,
            dilation=dilation,
            groups=groups,
        )
        return y, state

    return Layer(init, apply)


def Dense(
    features: int,
    *,
    use_bias: bool = True,
    kernel_init: Initializer | None = None,
    bias_init: Initializer | None = None,
) -> Layer:
    """Affine map on the last axis, via ``ops.dense``; ``In`` is read from ``in_shape``.

    Params ``{"w": (In, features), "b": (features,)}``; state ``{}``. Kernel init defaults to
    He normal (fan_in = In), bias to zeros. ``in_shape (..., In) -> (..., features)``.

    >>> import jax
    >>> params, _, out_shape = Dense(3).init(jax.random.key(0), (5,))
    >>> params["w"].shape, out_shape
    ((5, 3), (3,))
    """
    features = positive_int("Dense", "features", features)
    kernel_init = kernel_init or he_normal()
    bias_init = bias_init or zeros()

    def init(key, in_shape, *, dtype=None):
        in_shape = check_in_shape("Dense", in_shape, None, "(..., In)")
        dtype = default_dtype(dtype)
        w_key, b_key = jax.random.split(key)
        params = {"w": kernel_init(w_key, (in_shape[-1], features), dtype)}
        if use_bias:
            params["b"] = bias_init(b_key, (features,), dtype)
        return params, {}, (*in_shape[:-1], features)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("Dense", x, None, "(N, ..., In)")
        check_channels("Dense", x, params["w"].shape[0], "In")
        return ops.dense(x, params["w"], params.get("b")), state

    return Layer(init, apply)


def _pool(kind: str, op_name: str, window, stride, padding, ceil_mode, **op_kwargs) -> Layer:
    """A parameter-free sliding-window pooling layer over NHWC inputs.

    ``op_kwargs`` go to the op; a ``dilation`` among them shapes the window too.
    """
    window = pair(window, "window", kind)
    stride = window if stride is None else pair(stride, "stride", kind)
    if "dilation" in op_kwargs:
        op_kwargs["dilation"] = pair(op_kwargs["dilation"], "dilation", kind)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{kind}: `ceil_mode` must be a bool, got {ceil_mode!r}")
    dilation = op_kwargs.get("dilation", 1)
    geometry = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)

    def init(key, in_shape, *, dtype=None):
        h, w, c = check_in_shape(kind, in_shape, 3, "(H, W, C)")
        geo = window_geometry(kind, (h, w), window, dilation=dilation, **geometry)
        for axis, pads, k in zip("HW", geo.padding, geo.effective, strict=True):
            if max(pads) >= k:  # as the ops: no window may hold only padding
                raise ValueError(
                    f"{kind}: `padding` must be smaller than the (dilated) window on each side, "
                    f"got padding {pads} for window {k} along {axis}"
                )
        return {}, {}, (*geo.out_hw, c)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input(kind, x, 4, "(N, H, W, C)")
        op = getattr(ops, op_name)
        return op(x, window, **geometry, **op_kwargs), state

    init.__qualname__ = f"{kind}.<locals>.init"
    apply.__qualname__ = f"{kind}.<locals>.apply"
    return Layer(init, apply)


def MaxPool2d(
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Layer:
    """Max pooling via ``ops.max_pool2d`` (``nn.MaxPool2d``'s options); stride defaults to the
    window.

    Args:
      window, stride, padding, dilation, ceil_mode: as :func:`cnnjax.ops.max_pool2d`.

    ``in_shape (H, W, C) -> (H_out, W_out, C)``, ``H_out = (H + p_top + p_bottom -
    d*(KH-1) - 1) // s + 1``, rounded up under ``ceil_mode`` (unless that last window would
    start in the bottom padding), from :func:`cnnjax.ops.geometry.window_geometry`.

    >>> import jax
    >>> MaxPool2d(2).init(jax.random.key(0), (5, 4, 3))[2]
    (2, 2, 3)
    >>> MaxPool2d(2, ceil_mode=True).init(jax.random.key(0), (5, 4, 3))[2]
    (3, 2, 3)
    """
    return _pool("MaxPool2d", "max_pool2d", window, stride, padding, ceil_mode, dilation=dilation)


def AvgPool2d(
    window: Any,
    *,
    stride: Any = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
    ceil_mode: bool = False,
    divisor_override: int | None = None,
) -> Layer:
    """Average pooling via ``ops.avg_pool2d`` (``nn.AvgPool2d``'s options).

    Args:
      window, stride, padding, count_include_pad, ceil_mode, divisor_override: as
        :func:`cnnjax.ops.avg_pool2d`.

    Shapes as :func:`MaxPool2d` with dilation 1.

    >>> import jax
    >>> AvgPool2d(3, stride=2, ceil_mode=True).init(jax.random.key(0), (6, 6, 1))[2]
    (3, 3, 1)
    """
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"AvgPool2d: `count_include_pad` must be a bool, got {count_include_pad!r}")
    if divisor_override is not None and (
        isinstance(divisor_override, bool) or not isinstance(divisor_override, int)
    ):
        raise TypeError(
            f"AvgPool2d: `divisor_override` must be None or an int, got {divisor_override!r}"
        )
    if divisor_override is not None and divisor_override < 1:
        raise ValueError(f"AvgPool2d: `divisor_override` must be >= 1, got {divisor_override}")
    return _pool(
        "AvgPool2d",
        "avg_pool2d",
        window,
        stride,
        padding,
        ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )


def GlobalAvgPool2d() -> Layer:
    """Mean over H and W via ``ops.global_avg_pool2d``: ``in_shape (H, W, C) -> (C,)``."""

    def init(key, in_shape, *, dtype=None):
        return {}, {}, (check_in_shape("GlobalAvgPool2d", in_shape, 3, "(H, W, C)")[-1],)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("GlobalAvgPool2d", x, 4, "(N, H, W, C)")
        return ops.global_avg_pool2d(x), state

    return Layer(init, apply)


def Flatten() -> Layer:
    """Flatten all axes but the batch via ``ops.flatten``: ``(d1, ..., dk) -> (d1*...*dk,)``.

    >>> import jax
    >>> Flatten().init(jax.random.key(0), (3, 4, 5))[2]
    (60,)
    """

    def init(key, in_shape, *, dtype=None):
        return {}, {}, (math.prod(check_in_shape("Flatten", in_shape, None, "(d1, ...)")),)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("Flatten", x, None, "(N, d1, ...)")
        return ops.flatten(x), state

    return Layer(init, apply)


def BatchNorm(*, momentum: float = 0.9, eps: float = 1e-5) -> Layer:
    """Batch normalisation over all axes but the last (channels), Flax's conventions.

    Training (``train=True``): ``ops.batch_norm`` normalises with the batch mean and the
    *biased* batch variance, and the running statistics are updated as
    ``running = momentum * running + (1 - momentum) * batch`` (gradients stopped on the batch
    statistics). Eval: the affine map ``(x - running_mean) * scale / sqrt(running_var + eps)
    + bias`` in plain ``jax.numpy``.

    Params ``{"scale": ones (C,), "bias": zeros (C,)}``; state ``{"mean": zeros (C,), "var":
    ones (C,)}``. ``in_shape (..., C) -> (..., C)``.

    >>> import jax
    >>> params, state, _ = BatchNorm().init(jax.random.key(0), (4, 4, 3))
    >>> sorted(params), sorted(state), state["var"].tolist()
    (['bias', 'scale'], ['mean', 'var'], [1.0, 1.0, 1.0])
    """
    momentum = unit_interval("BatchNorm", "momentum", momentum, closed_right=True)
    if not isinstance(eps, (int, float)) or eps <= 0:
        raise ValueError(f"BatchNorm: `eps` must be a positive float, got {eps!r}")

    def init(key, in_shape, *, dtype=None):
        c = check_in_shape("BatchNorm", in_shape, None, "(..., C)")[-1]
        dtype = default_dtype(dtype)
        params = {"scale": jnp.ones((c,), dtype), "bias": jnp.zeros((c,), dtype)}
        state = {"mean": jnp.zeros((c,), dtype), "var": jnp.ones((c,), dtype)}
        return params, state, tuple(in_shape)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("BatchNorm", x, None, "(N, ..., C)")
        check_channels("BatchNorm", x, params["scale"].shape[0], "C")
        if train:
            y, mean, var = ops.batch_norm(x, params["scale"], params["bias"], eps=eps)
            new_state = {
                name: momentum * state[name]
                + (1.0 - momentum) * jax.lax.stop_gradient(batch).astype(state[name].dtype)
                for name, batch in (("mean", mean), ("var", var))
            }
            return y, new_state
        bshape = (1,) * (x.ndim - 1) + (-1,)  # explicit: rank promotion is an error
        inv = params["scale"] * jax.lax.rsqrt(state["var"] + eps)
        shift = params["bias"] - state["mean"] * inv
        return x * inv.reshape(bshape) + shift.reshape(bshape), state

    return Layer(init, apply)


def LayerNorm(*, eps: float = 1e-5) -> Layer:
    """Layer normalisation over the last axis via ``ops.layer_norm``.

    Params ``{"scale": ones (C,), "bias": zeros (C,)}``; state ``{}``; shape-preserving.
    """
    if not isinstance(eps, (int, float)) or eps <= 0:
        raise ValueError(f"LayerNorm: `eps` must be a positive float, got {eps!r}")

    def init(key, in_shape, *, dtype=None):
        c = check_in_shape("LayerNorm", in_shape, None, "(..., C)")[-1]
        dtype = default_dtype(dtype)
        params = {"scale": jnp.ones((c,), dtype), "bias": jnp.zeros((c,), dtype)}
        return params, {}, tuple(in_shape)

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_input("LayerNorm", x, None, "(N, ..., C)")
        check_channels("LayerNorm", x, params["scale"].shape[0], "C")
        return ops.layer_norm(x, params["scale"], params["bias"], eps=eps), state

    return Layer(init, apply)


def Dropout(rate: float) -> Layer:
    """Inverted dropout via ``ops.dropout``: in training each element is zeroed with
    probability ``rate`` and the rest scaled by ``1 / (1 - rate)``; needs ``key``. In eval
    (``train=False``) it is the identity. Shape-preserving, no params or state.
    """
    rate = unit_interval("Dropout", "rate", rate)

    def init(key, in_shape, *, dtype=None):
        return {}, {}, check_in_shape("Dropout", in_shape, None, "(d1, ...)")

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        if not train or rate == 0.0:
            return x, state
        if key is None:
            raise ValueError("Dropout: `key` is required when train=True (got key=None)")
        return ops.dropout(x, key, rate=rate), state

    return Layer(init, apply)
