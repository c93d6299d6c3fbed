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
from cnnjax.reference.conv_transpose import conv_transpose2d
from cnnjax.reference.dropout import dropout
from cnnjax.reference.linear import dense
from cnnjax.reference.loss import log_softmax, mse_loss, softmax, softmax_cross_entropy
from cnnjax.reference.norm import (
    batch_norm,
    batch_norm_inference,
    group_norm,
    instance_norm,
    layer_norm,
)
from cnnjax.reference.pad import pad2d
from cnnjax.reference.pool import avg_pool2d, global_avg_pool2d, max_pool2d
from cnnjax.reference.pool_adaptive import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    global_max_pool2d,
)
from cnnjax.reference.shape import flatten
from cnnjax.reference.upsample import upsample2d

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "batch_norm_inference",
    "conv2d",
    "conv_transpose2d",
    "dense",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "global_avg_pool2d",
    "global_max_pool2d",
    "group_norm",
    "instance_norm",
    "hardswish",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "max_pool2d",
    "pad2d",
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
    "upsample2d",
]
