"""Bad-input corpus, ``cnnjax.nn``: misuse of layers, combinators and models fails naming
the problem (a missing op set, another model's parameters, bad construction arguments)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest

from cnnjax import nn
from tests.corpus._outcome import check, run_call

V, T = ValueError, TypeError
KEY = jax.random.key(0)
NET = nn.Sequential([nn.Conv2d(4, 3), nn.BatchNorm(), nn.Relu(), nn.Flatten(), nn.Dense(2)])
OTHER = nn.Sequential([nn.Conv2d(4, 3), nn.Relu(), nn.Flatten(), nn.Dense(2)])
BLOCK = nn.Residual(nn.Conv2d(3, 3, padding="SAME"))
X = jnp.ones((2, 5, 5, 3), jnp.float32)


@functools.cache
def _init(layer_name: str):
    layer = {"net": NET, "other": OTHER, "block": BLOCK}[layer_name]
    return layer.init(KEY, (5, 5, 3), dtype=jnp.float32)[:2]


def _apply(layer, name, *, params=None, state=None, ops="default", x=X):
    p, s = _init(name)
    kwargs = {} if ops == "default" else {"ops": ops}
    p, s = p if params is None else params, s if state is None else state
    return layer.apply(p, s, x, **kwargs)


CASES = [
    ("seq-ops-none", lambda: _apply(NET, "net", ops=None), T, "`ops` must be an op set"),
    ("seq-ops-string", lambda: _apply(NET, "net", ops="cnnjax.ops"), T, "`ops` must be"),
    ("res-ops-none", lambda: _apply(BLOCK, "block", ops=None), T, "`ops` must be an op set"),
    (
        "seq-other-params",
        lambda: _apply(NET, "net", params=_init("other")[0], state=_init("other")[1]),
        V,
        "do not belong to this model",
    ),
    ("seq-other-state", lambda: _apply(NET, "net", state=_init("other")[1]), V, "`state`"),
    ("seq-params-none", lambda: _apply(NET, "net", params=[]), V, "`params`"),
    ("res-params-empty", lambda: _apply(BLOCK, "block", params={}), V, "`params`"),
    ("seq-wrong-channels", lambda: _apply(NET, "net", x=X[..., :2]), V, "C=3"),
    ("seq-ok", lambda: _apply(NET, "net"), None, ""),
    ("seq-empty", lambda: nn.Sequential([]), T, "non-empty list"),
    ("seq-not-layer", lambda: nn.Sequential([3]), T, "item 0 must be a Layer"),
    (
        "seq-duplicate-names",
        lambda: nn.Sequential([("a", nn.Relu()), ("a", nn.Relu())]),
        V,
        "unique",
    ),
    ("res-main-not-layer", lambda: nn.Residual(3), T, "`main` must be a Layer"),
    (
        "res-identity-shape",
        lambda: nn.Residual(nn.MaxPool2d(2)).init(KEY, (4, 4, 3)),
        V,
        "identity shortcut",
    ),
    ("init-shape-string", lambda: NET.init(KEY, "abc"), T, "`in_shape`"),
    ("init-shape-rank", lambda: NET.init(KEY, (5, 5)), V, "`in_shape`"),
    ("conv-features-0", lambda: nn.Conv2d(0, 3), V, "`features`"),
    ("dropout-rate-1.5", lambda: nn.Dropout(1.5), V, "`rate`"),
    ("zoo-unknown", lambda: nn.zoo.get_model("lenet6"), V, "lenet6"),
    (
        "zoo-other-model-params",
        lambda: nn.zoo.get_model("digits_cnn").apply(
            *_init("net"), jnp.ones((1, 8, 8, 1), jnp.float32)
        ),
        V,
        "do not belong to this model",
    ),
]


@pytest.mark.parametrize("fn, error, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_nn(fn, error, fragment):
    check(run_call(fn, error, fragment))
