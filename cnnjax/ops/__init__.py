"""The ops: each a pure forward function with a hand-derived VJP bound by ``jax.custom_vjp``.

Layout is NHWC for activations and HWIO for conv kernels. No JAX autodiff is used anywhere in
this package: every backward pass is derived in its docstring and transcribed by hand.
"""

from cnnjax.ops.activation import elu, leaky_relu, prelu, relu, relu6
from cnnjax.ops.activation_gated import hardswish, silu
from cnnjax.ops.activation_smooth import gelu, sigmoid, softplus, tanh
from cnnjax.ops.conv import conv2d, conv2d_grad_input, conv2d_grad_weight
from cnnjax.ops.conv_transpose import conv_transpose2d
from cnnjax.ops.cross_entropy import softmax_cross_entropy
from cnnjax.ops.dropout import dropout
from cnnjax.ops.linear import dense
from cnnjax.ops.loss import log_softmax, mse_loss, softmax
from cnnjax.ops.norm import batch_norm, batch_norm_inference, layer_norm
from cnnjax.ops.norm_group import group_norm, instance_norm
from cnnjax.ops.pad import pad2d
from cnnjax.ops.pool import avg_pool2d, global_avg_pool2d, max_pool2d
from cnnjax.ops.pool_adaptive import adaptive_avg_pool2d, adaptive_max_pool2d, global_max_pool2d
from cnnjax.ops.shape import flatten
from cnnjax.ops.upsample import upsample2d

OPS = (
    "conv2d",
    "dense",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "global_max_pool2d",
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "gelu",
    "softplus",
    "relu6",
    "prelu",
    "silu",
    "hardswish",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "mse_loss",
    "batch_norm",
    "batch_norm_inference",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "dropout",
    "flatten",
    "pad2d",
    "conv_transpose2d",
    "upsample2d",
)

__all__ = [
    "OPS",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "batch_norm_inference",
    "conv2d",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "conv_transpose2d",
    "dense",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "global_avg_pool2d",
    "global_max_pool2d",
    "group_norm",
    "hardswish",
    "instance_norm",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "pad2d",
    "prelu",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "tanh",
    "upsample2d",
]
assert sorted(set(__all__) - {"OPS", "conv2d_grad_input", "conv2d_grad_weight"}) == sorted(OPS)
