"""cnnjax: convolutional-network layers for JAX, every backward pass derived by hand.

>>> import jax.numpy as jnp
>>> import cnnjax as cj
>>> cj.relu(jnp.array([-1.0, 3.0])).tolist()
[0.0, 3.0]
"""

from cnnjax import nn, ops, reference
from cnnjax.ops import *  # noqa: F403
from cnnjax.ops import __all__ as _ops_all

__version__ = "0.1.0"
__all__ = ["nn", "ops", "reference", *_ops_all]
