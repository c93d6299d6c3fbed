"""cnnjax: convolutional-network layers for JAX, every backward pass derived by hand.

>>> import jax.numpy as jnp
>>> import cnnjax as cj
>>> cj.relu(jnp.array([-1.0, 3.0])).tolist()
[0.0, 3.0]

The ops (``cj.conv2d``, ...) and the ``nn``, ``ops`` and ``reference`` modules load on first
use, so ``import cnnjax`` alone, and so ``cnnjax --help``, starts no JAX.
"""

import importlib
import importlib.util

__version__ = "0.1.0"
_MODULES = ("nn", "ops", "reference")


def __getattr__(name: str):
    if name in _MODULES or (not name.startswith("_") and _is_submodule(name)):
        return importlib.import_module(f"cnnjax.{name}")  # `from cnnjax import cli` too
    if name == "__all__":
        return [*_MODULES, *importlib.import_module("cnnjax.ops").__all__]
    ops = importlib.import_module("cnnjax.ops")
    if name in ops.__all__:
        value = getattr(ops, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'cnnjax' has no attribute {name!r}")


def _is_submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(f"cnnjax.{name}") is not None
    except (ImportError, ValueError):
        return False


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})
