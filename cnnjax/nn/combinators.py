"""Combinators: ``Sequential`` (a chain) and ``Residual`` (``act(main(x) + shortcut(x))``).

Both keep their children's params and state in dicts keyed by readable names, so a
checkpoint reads ``params["3_conv2d"]["w"]`` or ``params["main"]["0_conv2d"]["w"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from cnnjax import ops as default_ops
from cnnjax.nn.activations import Relu
from cnnjax.nn.core import Layer, check_ops, check_tree, layer_name

__all__ = ["Residual", "Sequential", "Skip"]


def _named_layers(layers: Any) -> list[tuple[str, Layer]]:
    """Normalise a list of layers / ``(name, layer)`` pairs / a dict to ``[(name, layer)]``.

    Unnamed layers get ``f"{index}_{kind}"`` (``"0_conv2d"``, ``"1_batchnorm"``, ...).
    """
    items = list(layers.items()) if isinstance(layers, Mapping) else layers
    if not isinstance(items, Sequence) or isinstance(items, str) or len(items) == 0:
        raise TypeError(f"Sequential: `layers` must be a non-empty list of layers, got {layers!r}")
    width = len(str(len(items) - 1))
    named = []
    for i, item in enumerate(items):
        if isinstance(item, Layer):
            named.append((f"{i:0{width}d}_{layer_name(item).lower()}", item))
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Layer)
        ):
            named.append(item)
        else:
            raise TypeError(
                f"Sequential: item {i} must be a Layer or a (name, Layer) pair, got {item!r}"
            )
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f"Sequential: layer names must be unique, got {names}")
    return named


def _in_child(where: str, err: Exception) -> Exception:
    """Re-raise a child's ValueError/TypeError with its position prefixed."""
    cls = ValueError if isinstance(err, ValueError) else TypeError
    return cls(f"{where}: {err}")


def _split(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def Sequential(layers: Any) -> Layer:
    """Chain layers: the output of each is the input of the next.

    Args:
      layers: a list of ``Layer`` s or ``(name, Layer)`` pairs, or a dict name -> Layer.

    ``init`` splits ``key`` among the layers and threads the shape; ``apply`` splits ``key``
    (when given) the same way and threads each layer's state. Params and state are dicts
    keyed by layer name (``"0_conv2d"`` etc. when unnamed). A child's error is re-raised
    with the layer's name in front.

    >>> import jax
    >>> from cnnjax import nn
    >>> net = nn.Sequential([nn.Conv2d(4, 3), nn.Relu(), nn.Flatten(), nn.Dense(2)])
    >>> params, state, out_shape = net.init(jax.random.key(0), (5, 5, 1))
    >>> list(params), params["3_dense"]["w"].shape, out_shape
    (['0_conv2d', '1_relu', '2_flatten', '3_dense'], (100, 2), (2,))
    """
    named = _named_layers(layers)

    def init(key, in_shape, *, dtype=None):
        params, state, shape = {}, {}, in_shape
        kwargs = {} if dtype is None else {"dtype": dtype}
        for (name, layer), k in zip(named, _split(key, len(named)), strict=True):
            try:
                params[name], state[name], shape = layer.init(k, shape, **kwargs)
            except (ValueError, TypeError) as err:
                raise _in_child(f"Sequential layer {name!r} (in_shape {shape})", err) from err
        return params, state, tuple(shape)

    names = [name for name, _ in named]

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("Sequential", ops)
        check_tree("Sequential", "params", params, names)
        check_tree("Sequential", "state", state, names)
        new_state = {}
        for (name, layer), k in zip(named, _split(key, len(named)), strict=True):
            try:
                x, new_state[name] = layer.apply(
                    params[name], state[name], x, train=train, key=k, ops=ops
                )
            except (ValueError, TypeError) as err:
                raise _in_child(f"Sequential layer {name!r}", err) from err
        return x, new_state

    apply.children = tuple(named)  # the (name, layer) chain, for cnnjax.trace
    return Layer(init, apply)


def Residual(main: Layer, shortcut: Layer | None = None, *, activation: Layer | None = None):
    """Residual block ``y = activation(main(x) + shortcut(x))``.

    Args:
      main: the residual branch.
      shortcut: a projection branch (e.g. a strided 1x1 ``Conv2d`` + ``BatchNorm``) or
        ``None`` for the identity, which needs ``main`` to preserve the shape.
      activation: a parameter-free layer applied after the sum; default ``Relu()``.

    Params and state are ``{"main": ..., "shortcut": ...}`` (no ``"shortcut"`` entry for the
    identity). The sum is a plain ``+``, which no op covers.

    >>> import jax
    >>> from cnnjax import nn
    >>> block = nn.Residual(nn.Conv2d(6, 3, stride=2), nn.Conv2d(6, 1, stride=2))
    >>> params, state, out_shape = block.init(jax.random.key(0), (4, 4, 3))
    >>> list(params), out_shape
    (['main', 'shortcut'], (2, 2, 6))
    >>> nn.Residual(nn.Conv2d(3, 3, stride=2)).init(jax.random.key(0), (4, 4, 3))
    Traceback (most recent call last):
    ...
    ValueError: Residual: `main` maps (4, 4, 3) to (2, 2, 3) but the identity shortcut keeps (4, 4, 3); pass a projection `shortcut`
    """  # noqa: E501
    activation = Relu() if activation is None else activation
    for name, value in (("main", main), ("shortcut", shortcut), ("activation", activation)):
        if value is not None and not isinstance(value, Layer):
            raise TypeError(f"Residual: `{name}` must be a Layer, got {value!r}")

    def init(key, in_shape, *, dtype=None):
        in_shape = tuple(in_shape)
        kwargs = {} if dtype is None else {"dtype": dtype}
        k_main, k_short, k_act = jax.random.split(key, 3)
        params, state = {}, {}
        params["main"], state["main"], out_shape = main.init(k_main, in_shape, **kwargs)
        short_shape = in_shape
        if shortcut is not None:
            params["shortcut"], state["shortcut"], short_shape = shortcut.init(
                k_short, in_shape, **kwargs
            )
        if tuple(short_shape) != tuple(out_shape):
            what = "the identity shortcut keeps" if shortcut is None else "`shortcut` gives"
            hint = "; pass a projection `shortcut`" if shortcut is None else ""
            raise ValueError(
                f"Residual: `main` maps {in_shape} to {tuple(out_shape)} but {what} "
                f"{tuple(short_shape)}{hint}"
            )
        act_params, act_state, out_shape = activation.init(k_act, out_shape, **kwargs)
        if act_params or act_state:
            raise ValueError("Residual: `activation` must have no params or state")
        return params, state, tuple(out_shape)

    branches = ["main"] if shortcut is None else ["main", "shortcut"]

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("Residual", ops)
        check_tree("Residual", "params", params, branches)
        check_tree("Residual", "state", state, branches)
        k_main, k_short = _split(key, 2)
        new_state = {}
        y, new_state["main"] = main.apply(
            params["main"], state["main"], x, train=train, key=k_main, ops=ops
        )
        s = x
        if shortcut is not None:
            s, new_state["shortcut"] = shortcut.apply(
                params["shortcut"], state["shortcut"], x, train=train, key=k_short, ops=ops
            )
        if y.shape != s.shape:
            raise ValueError(
                f"Residual: `main` output {y.shape} and shortcut output {s.shape} differ"
            )
        y, _ = activation.apply({}, {}, y + s, train=train, ops=ops)
        return y, new_state

    return Layer(init, apply)


def Skip(inner: Layer) -> Layer:
    """A U-Net skip connection: ``y = concat([x, inner(x)], axis=-1)``.

    ``inner`` (typically down-sampling, a deeper block and up-sampling back) must keep H and
    W; the output has ``C + C_inner`` channels. Nested ``Skip`` s make a U-Net, level by level.
    The concatenation is plain ``jnp.concatenate`` (its VJP is a split), which no op covers,
    as :func:`Residual`'s sum.

    >>> import jax
    >>> from cnnjax import nn
    >>> block = nn.Skip(nn.Sequential([nn.MaxPool2d(2), nn.Conv2d(4, 3),
    ...                                nn.ConvTranspose2d(4, 2, stride=2)]))
    >>> params, state, out_shape = block.init(jax.random.key(0), (4, 4, 2))
    >>> list(params), out_shape
    (['inner'], (4, 4, 6))
    """
    if not isinstance(inner, Layer):
        raise TypeError(f"Skip: `inner` must be a Layer, got {inner!r}")

    def init(key, in_shape, *, dtype=None):
        in_shape = tuple(in_shape)
        kwargs = {} if dtype is None else {"dtype": dtype}
        params, state, inner_shape = inner.init(key, in_shape, **kwargs)
        if tuple(inner_shape[:-1]) != in_shape[:-1]:
            raise ValueError(
                f"Skip: `inner` maps {in_shape} to {tuple(inner_shape)}; it must keep every "
                "axis but the channels"
            )
        return {"inner": params}, {"inner": state}, (*in_shape[:-1], in_shape[-1] + inner_shape[-1])

    def apply(params, state, x, *, train=False, key=None, ops=default_ops):
        check_ops("Skip", ops)
        check_tree("Skip", "params", params, ["inner"])
        check_tree("Skip", "state", state, ["inner"])
        y, inner_state = inner.apply(
            params["inner"], state["inner"], x, train=train, key=key, ops=ops
        )
        return jnp.concatenate([x, y.astype(x.dtype)], axis=-1), {"inner": inner_state}

    return Layer(init, apply)
