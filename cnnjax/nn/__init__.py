"""Layers as pure ``(init, apply)`` pairs with state, the combinators and the model zoo.

>>> import jax
>>> import jax.numpy as jnp
>>> from cnnjax import nn
>>> net = nn.Sequential([nn.Dense(3), nn.Relu(), nn.Dense(2)])
>>> params, state, out_shape = net.init(jax.random.key(0), (4,))
>>> y, new_state = net.apply(params, state, jnp.ones((5, 4), params["0_dense"]["w"].dtype))
>>> y.shape, out_shape
((5, 2), (2,))
"""

from cnnjax.nn import zoo
from cnnjax.nn.activations import (
    Elu,
    Gelu,
    Hardswish,
    LeakyRelu,
    PRelu,
    Relu,
    Relu6,
    Sigmoid,
    Silu,
    Softmax,
    Softplus,
    Tanh,
)
from cnnjax.nn.combinators import Residual, Sequential, Skip
from cnnjax.nn.core import Layer, he_normal, he_uniform, layer_name, lecun_normal, zeros
from cnnjax.nn.layers import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    LayerNorm,
    MaxPool2d,
)
from cnnjax.nn.norms import GroupNorm, InstanceNorm
from cnnjax.nn.resample import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    ConvTranspose2d,
    GlobalMaxPool2d,
    Pad2d,
    Upsample,
)

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "ConvTranspose2d",
    "Dense",
    "Dropout",
    "Elu",
    "Flatten",
    "Gelu",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "GroupNorm",
    "Hardswish",
    "InstanceNorm",
    "Layer",
    "LayerNorm",
    "LeakyRelu",
    "MaxPool2d",
    "PRelu",
    "Pad2d",
    "Relu",
    "Relu6",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Silu",
    "Skip",
    "Softmax",
    "Softplus",
    "Tanh",
    "Upsample",
    "he_normal",
    "he_uniform",
    "layer_name",
    "lecun_normal",
    "zeros",
    "zoo",
]
