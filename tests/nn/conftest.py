"""Shared helpers for the nn tests."""

import jax
import pytest


def _abstract_init(layer, in_shape, **kwargs):
    """``layer.init`` traced with ``jax.eval_shape``: param/state ShapeDtypeStructs and the
    (static) out_shape, without running (and compiling) the initialisers."""
    box = {}

    def init(key):
        params, state, box["out_shape"] = layer.init(key, in_shape, **kwargs)
        return params, state

    params, state = jax.eval_shape(init, jax.random.key(0))
    return params, state, box["out_shape"]


@pytest.fixture
def abstract_init():
    return _abstract_init
