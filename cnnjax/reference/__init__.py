"""The yardstick: every op of ``cnnjax.ops`` written plainly in ``jax.numpy``/``lax``.

Same names and signatures as ``cnnjax.ops``, no ``custom_vjp`` anywhere: gradients here come
from JAX's autodiff, and every hand VJP is audited against them.
"""

from cnnjax.reference.activation import (
    elu,
    gelu,
    hardswish,
    leaky_relu,
    prelu,
    relu,
    relu6,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from cnnjax.reference.conv import conv2d
from cnnjax.reference.dropout import dropout
from cnnjax.reference.linear import dense
from cnnjax.reference.loss import log_softmax, mse_loss, softmax, softmax_cross_entropy
from cnnjax.reference.norm import batch_norm, layer_norm
from cnnjax.reference.pool import avg_pool2d, global_avg_pool2d, max_pool2d
from cnnjax.reference.shape import flatten

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dense",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "global_avg_pool2d",
    "hardswish",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "prelu",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "tanh",
]
