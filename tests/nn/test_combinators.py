"""Sequential and Residual: naming, key splitting, state threading, shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cnnjax
from cnnjax import nn


def test_sequential_names_layers_by_index_and_kind():
    net = nn.Sequential([nn.Dense(2)] * 3 + [nn.Relu()] * 8)
    params, _, _ = net.init(jax.random.key(0), (4,))
    assert list(params)[:4] == ["00_dense", "01_dense", "02_dense", "03_relu"]
    assert list(params)[-1] == "10_relu"


def test_sequential_accepts_names():
    net = nn.Sequential([("fc", nn.Dense(3)), nn.Relu(), ("out", nn.Dense(2))])
    params, state, out_shape = net.init(jax.random.key(0), (4,))
    assert list(params) == ["fc", "1_relu", "out"] and out_shape == (2,)
    params, _, _ = nn.Sequential({"a": nn.Dense(3), "b": nn.Dense(1)}).init(jax.random.key(0), (2,))
    assert params["a"]["w"].shape == (2, 3) and params["b"]["w"].shape == (3, 1)


@pytest.mark.parametrize(
    ("layers", "error", "message"),
    [
        ([], TypeError, r"Sequential: `layers` must be a non-empty list of layers"),
        ([nn.Relu(), "relu"], TypeError, r"Sequential: item 1 must be a Layer or a \(name, L"),
        ([("a", nn.Relu()), ("a", nn.Relu())], ValueError, r"layer names must be unique"),
    ],
)
def test_sequential_constructor_errors(layers, error, message):
    with pytest.raises(error, match=message):
        nn.Sequential(layers)


def test_sequential_threads_state_through_the_chain():
    net = nn.Sequential([nn.BatchNorm(), nn.Dense(3), nn.BatchNorm(momentum=0.5)])
    params, state, _ = net.init(jax.random.key(0), (4,))
    x = jax.random.normal(jax.random.key(1), (6, 4)) * 2.0 + 1.0
    y, new_state = net.apply(params, state, x, train=True)

    h = (x - x.mean(0)[None, :]) / jnp.sqrt(x.var(0)[None, :] + 1e-5)  # first BN, unit affine
    h = h @ params["1_dense"]["w"] + params["1_dense"]["b"][None, :]
    np.testing.assert_allclose(new_state["0_batchnorm"]["mean"], 0.1 * x.mean(0), atol=1e-12)
    np.testing.assert_allclose(new_state["2_batchnorm"]["mean"], 0.5 * h.mean(0), atol=1e-12)
    np.testing.assert_allclose(new_state["2_batchnorm"]["var"], 0.5 + 0.5 * h.var(0), rtol=1e-12)
    assert new_state["1_dense"] == {}
    # eval reads the state it is given: the updated state changes the output
    y_old, _ = net.apply(params, state, x)
    y_new, same = net.apply(params, new_state, x)
    assert same == new_state and not np.allclose(y_old, y_new)


def test_sequential_splits_the_key_among_layers():
    net = nn.Sequential([nn.Dropout(0.5), nn.Dropout(0.5)])
    x = jnp.ones((2, 64))
    key = jax.random.key(3)
    y, _ = net.apply(
        {"0_dropout": {}, "1_dropout": {}},
        {"0_dropout": {}, "1_dropout": {}},
        x,
        train=True,
        key=key,
    )
    k0, k1 = jax.random.split(key)
    want = cnnjax.ops.dropout(cnnjax.ops.dropout(x, k0, rate=0.5), k1, rate=0.5)
    np.testing.assert_array_equal(y, want)
    same_key_twice = cnnjax.ops.dropout(cnnjax.ops.dropout(x, k0, rate=0.5), k0, rate=0.5)
    assert not np.array_equal(y, same_key_twice)


def test_sequential_errors_name_the_layer():
    net = nn.Sequential([nn.Conv2d(2, 3), nn.Flatten(), nn.Dense(2)])
    params, state, _ = net.init(jax.random.key(0), (5, 5, 1))
    with pytest.raises(
        ValueError,
        match=r"Sequential layer '2_dense': Dense: .* In=50 \(as at init\), got shape \(2, 72\)",
    ):
        net.apply(params, state, jnp.ones((2, 6, 6, 1)))
    with pytest.raises(ValueError, match=r"Sequential layer '0_conv2d': Conv2d: .* C=1"):
        net.apply(params, state, jnp.ones((2, 5, 5, 3)))
    nested = nn.Sequential([nn.Flatten(), nn.Sequential([nn.Relu(), nn.Conv2d(2, 3)])])
    with pytest.raises(
        ValueError,
        match=r"Sequential layer '1_sequential' \(in_shape \(75,\)\): Sequential layer "
        r"'1_conv2d' \(in_shape \(75,\)\): Conv2d: `in_shape` must be",
    ):
        nested.init(jax.random.key(0), (5, 5, 3))


@pytest.mark.parametrize("ops", [cnnjax.ops, cnnjax.reference], ids=["hand", "autodiff"])
def test_residual_computes_act_of_main_plus_shortcut(ops):
    x = jax.random.normal(jax.random.key(0), (2, 4, 4, 2))
    main = nn.Conv2d(2, 3)
    block = nn.Residual(main)
    params, state, _ = block.init(jax.random.key(1), (4, 4, 2))
    assert list(params) == ["main"]
    y, _ = block.apply(params, state, x, ops=ops)
    m, _ = main.apply(params["main"], {}, x, ops=ops)
    np.testing.assert_allclose(y, jnp.maximum(m + x, 0.0), rtol=1e-13)

    proj = nn.Conv2d(3, 1, stride=2)
    block = nn.Residual(nn.Conv2d(3, 3, stride=2), proj, activation=nn.Tanh())
    params, state, out_shape = block.init(jax.random.key(2), (4, 4, 2))
    assert out_shape == (2, 2, 3)
    y, _ = block.apply(params, state, x, ops=ops)
    m, _ = nn.Conv2d(3, 3, stride=2).apply(params["main"], {}, x, ops=ops)
    s, _ = proj.apply(params["shortcut"], {}, x, ops=ops)
    np.testing.assert_allclose(y, jnp.tanh(m + s), rtol=1e-13)


def test_residual_threads_state_of_both_branches():
    block = nn.Residual(nn.BatchNorm(), nn.BatchNorm(momentum=0.0))
    params, state, _ = block.init(jax.random.key(0), (3,))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    _, new_state = block.apply(params, state, x, train=True)
    np.testing.assert_allclose(new_state["main"]["mean"], 0.1 * x.mean(0), atol=1e-12)
    np.testing.assert_allclose(new_state["shortcut"]["mean"], x.mean(0), atol=1e-12)


@pytest.mark.parametrize(
    ("make", "in_shape", "error", "message"),
    [
        (
            lambda: nn.Residual(nn.Conv2d(4, 3)),
            (4, 4, 2),
            ValueError,
            r"Residual: `main` maps \(4, 4, 2\) to \(4, 4, 4\) but the identity shortcut keeps "
            r"\(4, 4, 2\); pass a projection `shortcut`",
        ),
        (
            lambda: nn.Residual(nn.Conv2d(4, 3), nn.Conv2d(4, 1, stride=2)),
            (4, 4, 2),
            ValueError,
            r"Residual: `main` maps \(4, 4, 2\) to \(4, 4, 4\) but `shortcut` gives \(2, 2, 4\)",
        ),
        (
            lambda: nn.Residual(nn.Relu(), activation=nn.LayerNorm()),
            (3,),
            ValueError,
            r"Residual: `activation` must have no params or state",
        ),
        (lambda: nn.Residual("relu"), (3,), TypeError, r"Residual: `main` must be a Layer"),
    ],
)
def test_residual_errors(make, in_shape, error, message):
    with pytest.raises(error, match=message):
        make().init(jax.random.key(0), in_shape)


def test_apply_names_a_missing_op_set_and_another_models_parameters():
    net = nn.Sequential([nn.Dense(2), nn.Relu()])
    other = nn.Sequential([nn.Dense(2), nn.Tanh()])
    params, state, _ = net.init(jax.random.key(0), (3,), dtype=jnp.float32)
    x = jnp.ones((1, 3), jnp.float32)
    with pytest.raises(TypeError, match=r"Sequential: `ops` must be an op set .* got None"):
        net.apply(params, state, x, ops=None)
    wrong, wrong_state, _ = other.init(jax.random.key(0), (3,), dtype=jnp.float32)
    with pytest.raises(ValueError, match=r"`params` do not belong to this model: expected"):
        net.apply(wrong, wrong_state, x)
    block = nn.Residual(nn.Dense(3))
    with pytest.raises(ValueError, match=r"Residual: `params` .* expected entries \['main'\]"):
        block.apply({}, {}, x)
