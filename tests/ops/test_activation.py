"""Activations: kink conventions, residuals, large-input stability and validation.

Forward/VJP/second-order agreement with the reference is the grid's job
(``tests/ops/test_grid.py``); this file pins what the grid deliberately avoids.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference
from cnnjax.ops import activation as act
from cnnjax.ops import activation_gated as gated
from cnnjax.ops import activation_smooth as smooth

ACTIVATIONS = [
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "gelu",
    "softplus",
    "relu6",
    "silu",
    "hardswish",
]
DTYPES = ["float64", "float32", "bfloat16"]


def _grad(f):
    return jax.grad(lambda x: jnp.sum(f(x)))


# ---------------------------------------------------------------------------- kinks at zero


def test_relu_derivative_at_zero_is_zero():
    x = jnp.array([-1.0, 0.0, 1.0])
    assert _grad(ops.relu)(x).tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("slope", [0.01, 0.3, -0.5])
def test_leaky_relu_derivative_at_zero_is_the_slope(slope):
    x = jnp.array([-1.0, 0.0, 1.0])
    got = _grad(lambda v: ops.leaky_relu(v, slope))(x)
    assert got.tolist() == [slope, slope, 1.0]
    # ...which is what autodiff of the natural reference gives.
    assert got.tolist() == _grad(lambda v: reference.leaky_relu(v, slope))(x).tolist()


def test_elu_derivative_at_zero_is_alpha():
    x = jnp.array([0.0])
    assert _grad(lambda v: ops.elu(v, 2.0))(x).tolist() == [2.0]


# The kink values below were read off torch 2.13 autograd (F.relu6, F.hardswish, F.relu with
# a NaN): benchmarks/torch_parity/ re-checks them.
def test_relu6_derivative_is_zero_at_both_kinks_and_passes_nan():
    x = jnp.array([-1.0, 0.0, 3.0, 6.0, 7.0, jnp.nan])
    for f in (ops.relu6, reference.relu6):
        np.testing.assert_array_equal(_grad(f)(x), [0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
        np.testing.assert_array_equal(f(x), [0.0, 0.0, 3.0, 6.0, 6.0, np.nan])


def test_hardswish_kinks_follow_pytorch():
    x = jnp.array([-4.0, -3.0, 0.0, 3.0, 4.0])
    for f in (ops.hardswish, reference.hardswish):
        np.testing.assert_array_equal(_grad(f)(x), [0.0, 0.0, 0.5, 1.0, 1.0])


def test_prelu_kink_and_slope_gradient():
    x = jnp.array([[-2.0, 0.0, 3.0], [-1.0, -4.0, 0.0]])
    alpha = jnp.array([0.1, 0.2, 0.3])
    y, vjp = jax.vjp(ops.prelu, x, alpha)
    ct_x, ct_alpha = vjp(jnp.ones_like(y))
    np.testing.assert_allclose(ct_x, [[0.1, 0.2, 1.0], [0.1, 0.2, 0.3]], rtol=1e-15)
    np.testing.assert_allclose(ct_alpha, [-3.0, -4.0, 0.0], rtol=1e-15)
    _, vjp1 = jax.vjp(ops.prelu, x, jnp.array([0.5]))
    np.testing.assert_allclose(vjp1(jnp.ones_like(y))[1], [-7.0], rtol=1e-15)


def test_prelu_non_finite_inputs_match_the_reference_vjp():
    # ct_alpha sums ct_neg * x: x = +inf gives 0 * inf = NaN, as jax.grad of the reference.
    x = jnp.array([[jnp.inf, -jnp.inf, jnp.nan, 2.0], [1.0, -1.0, 0.0, -3.0]])
    alpha, ct = jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.array([[1.0, 2.0, 3.0, jnp.inf], [4.0] * 4])
    got = jax.vjp(ops.prelu, x, alpha)[1](ct)
    want = jax.vjp(reference.prelu, x, alpha)[1](ct)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert np.isnan(got[1][0]) and np.isfinite(got[1][3])


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (jnp.ones(2), r"prelu: `alpha` must have shape \(C,\)=\(3,\) or \(1,\), got \(2,\)"),
        (jnp.ones((1, 3)), r"prelu: `alpha` must have shape"),
    ],
)
def test_prelu_bad_alpha_shape(alpha, message):
    with pytest.raises(ValueError, match=message):
        ops.prelu(jnp.ones((2, 3)), alpha)


def test_prelu_mixed_dtypes_and_scalar_x_are_rejected():
    with pytest.raises(TypeError, match="prelu: arrays must share one dtype"):
        ops.prelu(jnp.ones((2, 3)), jnp.ones(3, jnp.float32))
    with pytest.raises(ValueError, match="prelu: `x` must have rank >= 1"):
        ops.prelu(jnp.float64(1.0), jnp.ones(1))


# -------------------------------------------------------------------------------- residuals


def test_relu_and_leaky_relu_residuals_are_boolean_masks():
    x = jnp.array([-2.0, 0.0, 3.0])
    (passes,) = act._relu_fwd(x)[1]
    assert passes.dtype == jnp.bool_ and passes.tolist() == [False, False, True]
    (positive,) = act._leaky_relu_fwd(x, 0.1)[1]
    assert positive.dtype == jnp.bool_ and positive.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("fwd", "field", "expected"),
    [
        (lambda x: act._elu_fwd(x, 1.0), "x", lambda x: x),
        (smooth._sigmoid_fwd, "y", lambda x: ops.sigmoid(x)),
        (smooth._tanh_fwd, "y", lambda x: ops.tanh(x)),
        (lambda x: smooth._gelu_fwd(x, True), "x", lambda x: x),
        (smooth._softplus_fwd, "s", lambda x: ops.sigmoid(x)),
        (gated._silu_fwd, "x", lambda x: x),
        (gated._hardswish_fwd, "x", lambda x: x),
    ],
    ids=["elu", "sigmoid", "tanh", "gelu", "softplus", "silu", "hardswish"],
)
def test_single_array_residual(fwd, field, expected):
    x = jnp.linspace(-3.0, 3.0, 7)
    res = fwd(x)[1]
    assert res._fields == (field,)
    np.testing.assert_allclose(getattr(res, field), expected(x), rtol=1e-12, atol=0)


# ------------------------------------------------------------- elu accuracy, relu NaN rule


@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
def test_elu_gradient_is_accurate_for_very_negative_inputs(alpha):
    # The exact derivative is alpha * exp(x) for x <= 0; a gradient formed as y + alpha from
    # the output had relative error 1.0 at x = -40 and 1.7e-4 at -30.
    x = np.linspace(-40.0, 0.0, 401)
    got = np.asarray(_grad(lambda v: ops.elu(v, alpha))(jnp.asarray(x)))
    want = alpha * np.exp(x)
    assert np.max(np.abs(got - want) / want) <= 1e-12


def test_relu_nan_propagates_with_its_gradient_in_op_and_reference():
    x = jnp.array([jnp.nan, -1.0, 0.0, 2.0])
    for f in (ops.relu, reference.relu):
        y, vjp = jax.vjp(f, x)
        np.testing.assert_array_equal(y, [np.nan, 0.0, 0.0, 2.0])
        np.testing.assert_array_equal(vjp(jnp.full(4, 3.0))[0], [3.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_array_likes_are_converted(name):
    want = _fn(name)(jnp.array([-1.5, 0.5]))
    for like in ([-1.5, 0.5], np.array([-1.5, 0.5])):
        np.testing.assert_array_equal(_fn(name)(like), want)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_non_array_is_a_type_error_naming_the_argument(name):
    with pytest.raises(TypeError, match=rf"^{name}: `x` must be an array or array-like"):
        _fn(name)("abc")


# ---------------------------------------------------------------------- large-input stability


def _fn(name):
    return getattr(ops, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS + ["gelu_erf"])
def test_no_nan_or_inf_at_large_magnitude(name, dtype):
    f = (lambda v: ops.gelu(v, approximate=False)) if name == "gelu_erf" else _fn(name)
    x = jnp.array([-1000.0, -30.0, 30.0, 1000.0], dtype)
    y = f(x)
    g = _grad(f)(x)
    gg = jax.grad(lambda v: jnp.sum(_grad(f)(v)))(x)
    for what, v in [("forward", y), ("grad", g), ("grad(grad)", gg)]:
        assert bool(jnp.all(jnp.isfinite(v))), f"{name} {dtype}: {what} not finite: {v}"


def test_saturating_values_at_large_magnitude():
    x = jnp.array([-1000.0, 1000.0])
    assert ops.sigmoid(x).tolist() == [0.0, 1.0]
    assert _grad(ops.sigmoid)(x).tolist() == [0.0, 0.0]
    assert ops.tanh(x).tolist() == [-1.0, 1.0]
    assert ops.softplus(x).tolist() == [0.0, 1000.0]
    assert _grad(ops.softplus)(x).tolist() == [0.0, 1.0]
    for approximate in (True, False):
        gelu = lambda v, a=approximate: ops.gelu(v, approximate=a)  # noqa: E731
        assert _grad(gelu)(x).tolist() == [0.0, 1.0]


def test_softplus_is_accurate_for_small_values():
    # log(1 + e^x) ~ e^x for very negative x: a naive log(1 + exp(x)) returns 0 there.
    x = jnp.array([-50.0])
    np.testing.assert_allclose(ops.softplus(x), np.exp(-50.0), rtol=1e-14)


# ---------------------------------------------------------------------- gelu matches jax.nn


@pytest.mark.parametrize("approximate", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gelu_matches_jax_nn_gelu(approximate, dtype):
    x = jnp.asarray(np.random.default_rng(0).standard_normal(64) * 4, dtype)
    got = ops.gelu(x, approximate=approximate)
    want = jax.nn.gelu(x, approximate=approximate)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64))


# --------------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_shape_and_dtype_preserved(name, dtype):
    x = jnp.ones((2, 1, 3, 4), dtype)
    y = _fn(name)(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    g = _grad(_fn(name))(x)
    assert g.shape == x.shape and g.dtype == x.dtype


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_integer_input_is_a_type_error(name):
    with pytest.raises(TypeError, match=rf"^{name}: `x` must be a floating-point array"):
        _fn(name)(jnp.arange(3))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: ops.leaky_relu(x, "0.1"), TypeError, "leaky_relu: `negative_slope` must be"),
        (lambda x: ops.leaky_relu(x, True), TypeError, "leaky_relu: `negative_slope` must be"),
        (lambda x: ops.leaky_relu(x, jnp.array(0.1)), TypeError, "`negative_slope` must be"),
        (lambda x: ops.leaky_relu(x, float("nan")), ValueError, "`negative_slope` must be finite"),
        (lambda x: ops.elu(x, 0.0), ValueError, r"elu: `alpha` must be > 0, got 0.0"),
        (lambda x: ops.elu(x, None), TypeError, "elu: `alpha` must be a real number"),
        (lambda x: ops.gelu(x, approximate="tanh"), TypeError, "gelu: `approximate` must be"),
    ],
    ids=[
        "slope-str",
        "slope-bool",
        "slope-array",
        "slope-nan",
        "alpha-0",
        "alpha-none",
        "approximate-str",
    ],
)
def test_bad_config_is_rejected(call, error, message):
    with pytest.raises(error, match=message):
        call(jnp.ones(3))


def test_validation_works_under_jit():
    with pytest.raises(TypeError, match="sigmoid: `x` must be a floating-point array"):
        jax.jit(ops.sigmoid)(jnp.arange(3))
    # Python-number config is static, so the op jits with it closed over.
    f = jax.jit(lambda x: ops.leaky_relu(x, 0.2))
    assert f(jnp.array([-1.0, 1.0])).tolist() == pytest.approx([-0.2, 1.0])
