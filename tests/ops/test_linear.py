"""Hand-built tests of ``dense``: exact gradients, no bias, float32 accumulation, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference


def _ints(rng, *shape):
    """Small integers as float64: every sum and product below is exact."""
    return jnp.asarray(rng.integers(-3, 4, size=shape), jnp.float64)


def test_bias_and_weight_gradients_are_exact_for_rank4_input():
    # Strict rank promotion is on (conftest): a ct_b summed over the wrong axes would fail
    # here by shape or by value rather than broadcast quietly.
    rng = np.random.default_rng(0)
    x, w, b = _ints(rng, 2, 3, 4, 5), _ints(rng, 5, 6), _ints(rng, 6)
    ct = _ints(rng, 2, 3, 4, 6)
    y, vjp = jax.vjp(ops.dense, x, w, b)
    ct_x, ct_w, ct_b = vjp(ct)
    np.testing.assert_array_equal(y, np.einsum("nhwi,io->nhwo", x, w) + np.asarray(b))
    np.testing.assert_array_equal(ct_b, np.asarray(ct).sum(axis=(0, 1, 2)))
    np.testing.assert_array_equal(ct_w, np.einsum("nhwi,nhwo->io", x, ct))
    np.testing.assert_array_equal(ct_x, np.einsum("nhwo,io->nhwi", ct, w))
    want = jax.vjp(reference.dense, x, w, b)[1](ct)
    for got, ref in zip((ct_x, ct_w, ct_b), want, strict=True):
        np.testing.assert_array_equal(got, ref)


def test_no_bias_gives_none_cotangent_and_matches_reference():
    rng = np.random.default_rng(1)
    x, w = _ints(rng, 4, 3), _ints(rng, 3, 2)
    y, vjp = jax.vjp(ops.dense, x, w, None)
    ct = _ints(rng, 4, 2)
    ct_x, ct_w, ct_b = vjp(ct)
    assert ct_b is None
    np.testing.assert_array_equal(y, np.asarray(x) @ np.asarray(w))
    np.testing.assert_array_equal(ct_w, np.asarray(x).T @ np.asarray(ct))
    np.testing.assert_array_equal(ct_x, np.asarray(ct) @ np.asarray(w).T)


def test_rank1_input_gives_outer_product_weight_gradient():
    x, w, b = jnp.array([1.0, 2.0]), jnp.ones((2, 3)), jnp.zeros(3)
    grad_w = jax.grad(lambda w: ops.dense(x, w, b) @ jnp.array([1.0, 0.0, -1.0]))(w)
    assert grad_w.tolist() == [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]]


def test_bfloat16_accumulates_in_float32():
    # A sum of 4096 ones in bfloat16 arithmetic stalls at 256 (256 + 1 rounds back to 256);
    # accumulating in float32 gives 4096 exactly, which bfloat16 represents.
    n = 4096
    x = jnp.ones((1, n), jnp.bfloat16)
    w = jnp.ones((n, 1), jnp.bfloat16)
    b = jnp.zeros((1,), jnp.bfloat16)
    y, vjp = jax.vjp(ops.dense, x, w, b)
    assert y.dtype == jnp.bfloat16 and float(y[0, 0]) == n
    xs = jnp.ones((n, 1), jnp.bfloat16)
    _, vjp = jax.vjp(ops.dense, xs, jnp.ones((1, 1), jnp.bfloat16), b)
    _, ct_w, ct_b = vjp(jnp.ones((n, 1), jnp.bfloat16))
    assert ct_w.dtype == jnp.bfloat16 and float(ct_w[0, 0]) == n
    assert float(ct_b[0]) == n


def test_jit_matches_eager():
    rng = np.random.default_rng(2)
    x, w, b = _ints(rng, 3, 4), _ints(rng, 4, 2), _ints(rng, 2)
    np.testing.assert_array_equal(jax.jit(ops.dense)(x, w, b), ops.dense(x, w, b))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((jnp.float64(1.0), jnp.ones((1, 2))), ValueError, r"dense: `x` must have rank >= 1"),
        ((jnp.ones((2, 3)), jnp.ones(3)), ValueError, r"dense: `w` must have rank 2 \(In, Out\)"),
        ((jnp.ones((2, 3)), jnp.ones((4, 5))), ValueError, r"`w` expects In=4 but `x` has In=3"),
        (
            (jnp.ones((2, 3)), jnp.ones((3, 5)), jnp.ones(4)),
            ValueError,
            r"dense: `b` must have shape \(Out,\)=\(5,\), got \(4,\)",
        ),
        (
            (jnp.ones((2, 3)), jnp.ones((3, 5), jnp.float32)),
            TypeError,
            r"dense: arrays must share one dtype",
        ),
        (
            (jnp.ones((2, 3), jnp.int32), jnp.ones((3, 5), jnp.int32)),
            TypeError,
            r"dense: `x` must be a floating-point array",
        ),
    ],
)
def test_validation_messages(args, error, match):
    with pytest.raises(error, match=match):
        ops.dense(*args)


def test_validation_works_under_jit():
    with pytest.raises(ValueError, match="expects In=4"):
        jax.jit(ops.dense)(jnp.ones((2, 3)), jnp.ones((4, 5)))
