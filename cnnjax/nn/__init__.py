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
from cnnjax.nn.activations import Elu, Gelu, LeakyRelu, Relu, Sigmoid, Softplus, Tanh
from cnnjax.nn.combinators import Residual, Sequential
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

__all__ = [
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Dense",
    "Dropout",
    "Elu",
    "Flatten",
    "Gelu",
    "GlobalAvgPool2d",
    "Layer",
    "LayerNorm",
    "LeakyRelu",
    "MaxPool2d",
    "Relu",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "he_normal",
    "he_uniform",
    "layer_name",
    "lecun_normal",
    "zeros",
    "zoo",
]
