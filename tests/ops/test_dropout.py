"""Dropout: keep fraction, scaling, identity modes, determinism per key and validation."""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference

# cnnjax.ops re-exports the function `dropout`, which shadows the submodule attribute.
dropout_module = importlib.import_module("cnnjax.ops.dropout")

KEY = jax.random.key(7)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.9])
def test_keep_fraction_and_scaling(rate):
    x = jnp.ones((200, 500))
    y = np.asarray(ops.dropout(x, KEY, rate=rate))
    kept = y != 0
    # 1e5 Bernoulli draws: the std of the fraction is <= 0.0016, so 0.01 is > 6 sigma.
    assert abs(kept.mean() - (1 - rate)) < 0.01
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-15)


def test_mask_is_jax_random_bernoulli_of_the_key():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 5, 3)))
    keep = jax.random.bernoulli(KEY, 1 - 0.3, x.shape)
    y = ops.dropout(x, KEY, rate=0.3)
    np.testing.assert_array_equal(y, jnp.where(keep, x / 0.7, 0.0))
    (res_keep,) = dropout_module._dropout_fwd(x, KEY, 0.3, ())[1]
    assert res_keep.dtype == jnp.bool_
    np.testing.assert_array_equal(res_keep, keep)


def test_vjp_uses_the_forward_mask():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((6, 7)))
    ct = jnp.asarray(np.random.default_rng(2).standard_normal((6, 7)))
    y, vjp = jax.vjp(lambda v: ops.dropout(v, KEY, rate=0.4), x)
    (ct_x,) = vjp(ct)
    keep = y != 0
    np.testing.assert_allclose(ct_x, jnp.where(keep, ct / 0.6, 0.0), rtol=1e-15)
    assert bool(jnp.any(keep)) and not bool(jnp.all(keep))


def test_key_gets_no_cotangent():
    x = jnp.ones((3, 4))
    for key in (KEY, jax.random.PRNGKey(3)):
        _, vjp = jax.vjp(lambda v, k: ops.dropout(v, k, rate=0.5), x, key)
        ct_x, ct_key = vjp(jnp.ones((3, 4)))
        assert ct_x.shape == x.shape
        assert ct_key.dtype == jax.dtypes.float0


def test_same_key_same_mask_other_key_other_mask():
    x = jnp.ones((50, 40))
    a = ops.dropout(x, KEY, rate=0.5)
    np.testing.assert_array_equal(a, ops.dropout(x, KEY, rate=0.5))
    np.testing.assert_array_equal(a, jax.jit(lambda v: ops.dropout(v, KEY, rate=0.5))(x))
    assert not np.array_equal(a, ops.dropout(x, jax.random.key(8), rate=0.5))


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        (KEY, {"rate": 0.5, "deterministic": True}),
        (None, {"rate": 0.5, "deterministic": True}),
        (KEY, {"rate": 0.0}),
        (None, {"rate": 0.0}),
    ],
    ids=["deterministic", "deterministic-nokey", "rate0", "rate0-nokey"],
)
def test_identity_modes(key, kwargs):
    x = jnp.asarray(np.random.default_rng(3).standard_normal((2, 3, 4)))
    y, vjp = jax.vjp(lambda v: ops.dropout(v, key, **kwargs), x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(vjp(2 * x)[0], 2 * x)
    np.testing.assert_array_equal(reference.dropout(x, key, **kwargs), x)


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_shape_and_dtype_preserved(dtype):
    x = jnp.ones((2, 1, 3, 4), dtype)
    y, vjp = jax.vjp(lambda v: ops.dropout(v, KEY, rate=0.25), x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert vjp(y)[0].dtype == x.dtype


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((KEY,), {"rate": -0.1}, ValueError, r"dropout: `rate` must be in \[0, 1\), got -0.1"),
        ((KEY,), {"rate": 1.0}, ValueError, r"dropout: `rate` must be in \[0, 1\), got 1.0"),
        ((KEY,), {"rate": "0.5"}, TypeError, "dropout: `rate` must be a real number"),
        ((KEY,), {"rate": 0.5, "deterministic": 1}, TypeError, "`deterministic` must be a bool"),
        ((None,), {"rate": 0.5}, TypeError, "dropout: `key` must be a PRNG key"),
        ((jnp.zeros(2),), {"rate": 0.5}, TypeError, "dropout: `key` must be one PRNG key"),
        ((jax.random.split(KEY, 2),), {"rate": 0.5}, TypeError, "`key` must be one PRNG key"),
    ],
    ids=[
        "rate-neg",
        "rate-1",
        "rate-str",
        "deterministic-int",
        "key-none",
        "key-float",
        "key-batch",
    ],
)
def test_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        ops.dropout(jnp.ones(3), *args, **kwargs)


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="dropout: `x` must be a floating-point array"):
        ops.dropout(jnp.arange(3), KEY, rate=0.5)


def test_channel_dropout_shares_one_draw_per_example_and_channel():
    x = jnp.ones((3, 4, 5, 6))
    y, vjp = jax.vjp(lambda v: ops.dropout(v, KEY, rate=0.5, broadcast_dims=(1, 2)), x)
    per_channel = y.reshape(3, 20, 6)
    assert bool(jnp.all(per_channel == per_channel[:, :1, :]))
    assert set(np.unique(np.asarray(y)).tolist()) == {0.0, 2.0}
    np.testing.assert_array_equal(vjp(jnp.ones_like(y))[0], y)
    keep = dropout_module._dropout_fwd(x, KEY, 0.5, (1, 2))[1].keep
    assert keep.shape == (3, 1, 1, 6) and keep.dtype == jnp.bool_


@pytest.mark.parametrize(
    ("dims", "error", "message"),
    [
        ((4,), ValueError, r"dropout: `broadcast_dims` \(4,\) out of range for rank 4"),
        ((1, -3), ValueError, "dropout: `broadcast_dims` repeats an axis"),
        (("1",), TypeError, "dropout: `broadcast_dims` must be a tuple of ints"),
    ],
)
def test_bad_broadcast_dims(dims, error, message):
    with pytest.raises(error, match=message):
        ops.dropout(jnp.ones((2, 3, 3, 2)), KEY, rate=0.5, broadcast_dims=dims)
