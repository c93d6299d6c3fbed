"""flatten: shapes, order, the reshape-back VJP, residuals and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops
from cnnjax.ops import shape as shape_module


@pytest.mark.parametrize(
    ("shape", "out"),
    [
        ((5,), (5, 1)),
        ((3, 5), (3, 5)),
        ((2, 3, 4), (2, 12)),
        ((2, 3, 1, 4), (2, 12)),
        ((1, 2, 2, 1), (1, 4)),
        ((2, 1, 3, 2, 2), (2, 12)),
    ],
)
def test_flatten_shapes_and_row_major_order(shape, out):
    x = jnp.arange(np.prod(shape), dtype=jnp.float64).reshape(shape)
    y = ops.flatten(x)
    assert y.shape == out
    np.testing.assert_array_equal(y, np.arange(np.prod(shape)).reshape(out))


def test_vjp_reshapes_back_and_keeps_no_residual():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3, 1, 4)))
    ct = jnp.asarray(np.random.default_rng(1).standard_normal((2, 12)))
    _, vjp = jax.vjp(ops.flatten, x)
    np.testing.assert_array_equal(vjp(ct)[0], ct.reshape(2, 3, 1, 4))
    assert shape_module._flatten_fwd(x, x.shape)[1] is None


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_dtype_preserved(dtype):
    x = jnp.ones((2, 3, 4), dtype)
    y, vjp = jax.vjp(ops.flatten, x)
    assert y.dtype == x.dtype and vjp(y)[0].dtype == x.dtype


def test_rank_0_is_a_value_error():
    with pytest.raises(
        ValueError, match=r"flatten: `x` must have rank >= 1 \(N, ...\), got shape \(\)"
    ):
        ops.flatten(jnp.array(1.0))


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="flatten: `x` must be a floating-point array"):
        ops.flatten(jnp.zeros((2, 3), jnp.int32))
