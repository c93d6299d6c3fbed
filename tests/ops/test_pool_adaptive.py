"""Hand-built tests of adaptive and global max/avg pooling: bins, ties, NaN, -inf, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference
from cnnjax.ops import pool_adaptive


def test_bins_are_pytorchs_floor_ceil_rule():
    # 7 -> 3: [0, 3), [2, 5), [4, 7); 5 -> 4: [0, 2), [1, 3), [2, 4), [3, 5); 2 -> 3 repeats.
    assert pool_adaptive._bins(7, 3) == [(0, 3), (2, 5), (4, 7)]
    assert pool_adaptive._bins(5, 4) == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert pool_adaptive._bins(2, 3) == [(0, 1), (0, 2), (1, 2)]


def test_adaptive_avg_by_hand_and_overlapping_bins_add_up():
    x = jnp.arange(7.0).reshape(1, 7, 1, 1)
    y, vjp = jax.vjp(lambda a: ops.adaptive_avg_pool2d(a, (3, 1)), x)
    assert y.ravel().tolist() == [1.0, 3.0, 5.0]
    ct_x = vjp(jnp.ones_like(y))[0].ravel()
    np.testing.assert_allclose(ct_x, [1 / 3, 1 / 3, 2 / 3, 1 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_max_ties_route_to_the_first_maximum_in_row_major_order():
    x = jnp.array([[5.0, 1.0], [5.0, 5.0]]).reshape(1, 2, 2, 1)
    for f in (lambda a: ops.adaptive_max_pool2d(a, 1), lambda a: ops.global_max_pool2d(a)):
        ct_x = jax.grad(lambda a, f=f: jnp.sum(f(a)))(x)
        assert ct_x.ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_max_ties_across_rows_and_columns_follow_row_major_order_like_the_reference():
    # The fwd reduces W bins, then H bins: (0, 1) precedes (1, 0) although its column is later.
    x = jnp.array([[1.0, 5.0], [5.0, 1.0]]).reshape(1, 2, 2, 1)
    ct_x = jax.grad(lambda a: jnp.sum(ops.adaptive_max_pool2d(a, 1)))(x)
    assert ct_x.ravel().tolist() == [0.0, 1.0, 0.0, 0.0]
    # Many ties (values in {0, 1, 2}) over overlapping bins: the reference picks the same cells.
    x = jnp.asarray(np.random.default_rng(3).integers(0, 3, (2, 5, 7, 3)).astype(np.float64))
    ct = jnp.asarray(np.random.default_rng(4).standard_normal((2, 3, 4, 3)))
    got = jax.vjp(lambda a: ops.adaptive_max_pool2d(a, (3, 4)), x)[1](ct)[0]
    want = jax.vjp(lambda a: reference.adaptive_max_pool2d(a, (3, 4)), x)[1](ct)[0]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)  # overlapping bins: sum order


def test_max_nan_propagates_and_takes_the_gradient_like_the_reference():
    x = jnp.array([1.0, jnp.nan, 3.0, jnp.nan, 0.0]).reshape(1, 5, 1, 1)
    for name, kw in (("adaptive_max_pool2d", {"output_size": (2, 1)}), ("global_max_pool2d", {})):
        f = getattr(ops, name)
        y, vjp = jax.vjp(lambda a, f=f, kw=kw: f(a, **kw), x)
        assert bool(jnp.all(jnp.isnan(y)))
        ct_x = vjp(jnp.ones_like(y))[0].ravel().tolist()
        assert ct_x[1] >= 1.0 and ct_x[0] == ct_x[2] == ct_x[4] == 0.0
        g_ref = jax.grad(lambda a, name=name, kw=kw: jnp.sum(getattr(reference, name)(a, **kw)))(x)
        assert g_ref.ravel().tolist() == ct_x


def test_all_minus_inf_bin_routes_to_its_first_cell():
    x = jnp.full((1, 3, 3, 1), -jnp.inf)
    ct_x = jax.grad(lambda a: jnp.sum(ops.adaptive_max_pool2d(a, 2)))(x)[0, :, :, 0]
    # bins [0, 2) and [1, 3) in each direction: first cells (0, 0), (0, 1), (1, 0), (1, 1).
    assert ct_x.tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_max_saves_int32_indices_not_the_input():
    x = jnp.asarray(np.random.default_rng(0).permutation(np.arange(24.0)).reshape(1, 4, 3, 2))
    _, res = pool_adaptive._adaptive_max_pool2d_fwd(x, (3, 2), (4, 3))
    assert res._fields == ("flat_argmax",) and res.flat_argmax.dtype == jnp.int32
    assert res.flat_argmax.shape == (1, 3, 2, 2)


def test_output_larger_than_input_matches_reference_gradients():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 2, 2)))
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        ct = jnp.asarray(np.random.default_rng(2).standard_normal((2, 5, 4, 2)))
        got = jax.vjp(lambda a, n=name: getattr(ops, n)(a, (5, 4)), x)[1](ct)[0]
        want = jax.vjp(lambda a, n=name: getattr(reference, n)(a, (5, 4)), x)[1](ct)[0]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_array_likes_are_accepted():
    x = np.arange(8.0).reshape(1, 2, 2, 2).tolist()
    assert ops.global_max_pool2d(x).tolist() == [[6.0, 7.0]]
    assert ops.adaptive_avg_pool2d(x, 1).shape == (1, 1, 1, 2)


_X = jnp.ones((1, 4, 4, 2))


@pytest.mark.parametrize(
    ("op", "args", "error", "match"),
    [
        ("adaptive_avg_pool2d", (_X, 0), ValueError, r"`output_size` must be >= 1"),
        ("adaptive_max_pool2d", (_X, (2, -1)), ValueError, r"`output_size` must be >= 1"),
        ("adaptive_max_pool2d", (_X, 2.5), TypeError, r"`output_size` must be an int"),
        ("adaptive_avg_pool2d", (jnp.ones((4, 4, 2)), 2), ValueError, r"`x` must have rank 4"),
        ("adaptive_max_pool2d", (jnp.ones((1, 0, 4, 2)), 2), ValueError, r"H >= 1 and W >= 1"),
        ("global_max_pool2d", (jnp.ones((1, 3, 0, 2)),), ValueError, r"H >= 1 and W >= 1"),
        ("global_max_pool2d", (jnp.ones((1, 3, 3, 2), jnp.int32),), TypeError, r"floating"),
    ],
)
def test_validation_messages(op, args, error, match):
    with pytest.raises(error, match=match):
        getattr(ops, op)(*args)
