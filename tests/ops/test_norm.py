"""Hand-built tests of batch_norm and layer_norm: statistics cotangents, zero variance, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference
from cnnjax.ops import norm as norm_module
from cnnjax.ops import norm_group as norm_group_module


def _bn_inputs(seed=0, shape=(2, 3, 4, 5)):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    return (
        jnp.asarray(2.0 * rng.standard_normal(shape) + 1.0),
        jnp.asarray(1.0 + 0.5 * rng.standard_normal(c)),
        jnp.asarray(rng.standard_normal(c)),
    )


def _vjps(op, args, cts, **kwargs):
    got = jax.vjp(lambda *a: getattr(ops, op)(*a, **kwargs), *args)[1](cts)
    want = jax.vjp(lambda *a: getattr(reference, op)(*a, **kwargs), *args)[1](cts)
    return got, want


def _assert_close(got, want, tol=1e-11):
    for g, w in zip(got, want, strict=True):
        scale = max(float(jnp.max(jnp.abs(w))), 1e-300)
        assert float(jnp.max(jnp.abs(g - w))) / scale <= tol


@pytest.mark.parametrize("which", ["mean", "var"])
def test_cotangent_on_one_statistic_only_matches_reference(which):
    x, scale, bias = _bn_inputs()
    c = x.shape[-1]
    ct_stat = jnp.asarray(np.random.default_rng(1).standard_normal(c))
    zero_c, zero_y = jnp.zeros(c), jnp.zeros(x.shape)
    cts = (zero_y, ct_stat, zero_c) if which == "mean" else (zero_y, zero_c, ct_stat)
    got, want = _vjps("batch_norm", (x, scale, bias), cts)
    assert float(jnp.max(jnp.abs(got[0]))) > 1e-2  # the statistic does reach x
    _assert_close(got, want)
    # scale and bias do not enter the statistics: their cotangents are exactly zero.
    assert got[1].tolist() == [0.0] * c and got[2].tolist() == [0.0] * c


def test_statistic_cotangents_have_their_closed_form():
    # d mean_c / d x = 1/M and d var_c / d x = 2 (x - mean_c) / M, per channel.
    x, scale, bias = _bn_inputs(shape=(3, 4))
    m = x.shape[0]
    ct_mean, ct_var = jnp.array([1.0, -2.0, 0.5, 3.0]), jnp.array([0.5, 1.0, -1.0, 2.0])
    cts = (jnp.zeros(x.shape), ct_mean, ct_var)
    ct_x = jax.vjp(ops.batch_norm, x, scale, bias)[1](cts)[0]
    xn, mean = np.asarray(x), np.asarray(x).mean(0)
    want = ct_mean[None, :] / m + 2 * np.asarray(ct_var)[None, :] * (xn - mean) / m
    np.testing.assert_allclose(ct_x, want, rtol=0, atol=1e-13)


def test_statistics_are_batch_mean_and_biased_variance():
    x, scale, bias = _bn_inputs()
    y, mean, var = ops.batch_norm(x, scale, bias, eps=1e-3)
    xn = np.asarray(x).reshape(-1, x.shape[-1])
    np.testing.assert_allclose(mean, xn.mean(0), rtol=1e-13)
    np.testing.assert_allclose(var, xn.var(0, ddof=0), rtol=1e-13)
    want = (np.asarray(x) - xn.mean(0)) / np.sqrt(xn.var(0) + 1e-3) * np.asarray(scale)
    np.testing.assert_allclose(y, want + np.asarray(bias), rtol=1e-12, atol=1e-12)


def test_constant_channel_gives_finite_gradients_matching_reference():
    x, scale, bias = _bn_inputs(shape=(4, 3, 2, 3))
    x = x.at[..., 1].set(0.75)  # variance exactly 0: only eps keeps 1/sigma finite
    rng = np.random.default_rng(2)
    cts = (
        jnp.asarray(rng.standard_normal(x.shape)),
        jnp.asarray(rng.standard_normal(3)),
        jnp.asarray(rng.standard_normal(3)),
    )
    (y, mean, var), vjp = jax.vjp(ops.batch_norm, x, scale, bias)
    assert float(var[1]) == 0.0 and float(mean[1]) == 0.75
    np.testing.assert_array_equal(y[..., 1], jnp.full(y.shape[:-1], bias[1]))
    got = vjp(cts)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in got)
    _assert_close(got, jax.vjp(reference.batch_norm, x, scale, bias)[1](cts))


def test_batch_norm_residuals_are_x_mean_inv_std_and_scale():
    # x, not x_hat: in a network XLA keeps the conv output alive anyway (see batch_norm).
    x, scale, bias = _bn_inputs(shape=(6, 2))
    _, res = norm_module._batch_norm_fwd(x, scale, bias, 1e-5, True)
    assert set(res._fields) == {"x", "mean", "inv_std", "scale"}
    assert res.x is x and res.mean.shape == res.inv_std.shape == (2,)
    np.testing.assert_allclose(res.mean, np.asarray(x).mean(0), rtol=1e-13)
    np.testing.assert_allclose(res.inv_std, 1 / np.sqrt(np.asarray(x).var(0) + 1e-5), rtol=1e-13)


def test_layer_norm_residuals_are_x_hat_inv_std_and_scale():
    x = jnp.asarray(np.random.default_rng(3).standard_normal((4, 5)))
    _, res = norm_module._layer_norm_fwd(x, jnp.ones(5), jnp.zeros(5), 1e-5, (1,), True)
    assert set(res._fields) == {"x_hat", "inv_std", "scale"}
    np.testing.assert_allclose(res.x_hat.mean(-1), 0.0, atol=1e-13)


def test_batch_norm_grads_with_a_large_mean_in_float32():
    # The one-pass sum of ct * x_hat is shifted by the first value: no cancellation at mean 100.
    rng = np.random.default_rng(4)
    x = (100.0 + rng.standard_normal((64, 4, 4, 8))).astype(np.float32)
    ct = rng.standard_normal(x.shape).astype(np.float32)
    scale, bias = np.full(8, 1.5, np.float32), np.zeros(8, np.float32)
    zeros = np.zeros(8, np.float32)
    got = jax.vjp(ops.batch_norm, x, scale, bias)[1]((ct, zeros, zeros))
    with jax.enable_x64(True):
        args64 = [jnp.asarray(a, jnp.float64) for a in (x, scale, bias)]
        cts64 = (jnp.asarray(ct, jnp.float64), jnp.zeros(8), jnp.zeros(8))
        want = jax.vjp(reference.batch_norm, *args64)[1](cts64)
    for g, w in zip(got, want, strict=True):
        err = np.max(np.abs(np.asarray(g, np.float64) - np.asarray(w))) / np.max(np.abs(w))
        assert err < 2e-5, err


def test_bfloat16_statistics_accumulate_in_float32():
    # Summing 4096 ones in bfloat16 stalls at 256 (mean 1/16); a float32 sum gives mean 1.
    x = jnp.ones((4096, 1), jnp.bfloat16)
    one = jnp.ones((1,), jnp.bfloat16)
    (y, mean, var), vjp = jax.vjp(ops.batch_norm, x, one, one)
    assert y.dtype == mean.dtype == var.dtype == jnp.bfloat16
    assert float(mean[0]) == 1.0 and float(var[0]) == 0.0
    ct_x, ct_scale, ct_bias = vjp((jnp.ones_like(x), jnp.zeros_like(one), jnp.zeros_like(one)))
    assert float(ct_bias[0]) == 4096.0
    assert float(ct_scale[0]) == 0.0 and float(jnp.max(jnp.abs(ct_x))) == 0.0


def test_batch_norm_under_jit_and_grad_of_y_only():
    x, scale, bias = _bn_inputs(shape=(5, 3))

    def loss(module, *a):
        return jnp.sum(jnp.sin(module.batch_norm(*a, eps=1e-2)[0]))

    got = jax.jit(jax.grad(lambda *a: loss(ops, *a), argnums=(0, 1, 2)))(x, scale, bias)
    want = jax.grad(lambda *a: loss(reference, *a), argnums=(0, 1, 2))(x, scale, bias)
    _assert_close(got, want)


def test_layer_norm_rows_are_normalised_and_affine():
    x, _, _ = _bn_inputs(shape=(3, 4, 6))
    scale, bias = jnp.full((6,), 2.0), jnp.full((6,), -1.0)
    y = ops.layer_norm(x, scale, bias, eps=1e-12)
    x_hat = (np.asarray(y) + 1.0) / 2.0
    np.testing.assert_allclose(x_hat.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(x_hat.var(-1), 1.0, rtol=1e-10)


def test_layer_norm_matches_reference_vjp_rank4():
    x, scale, bias = _bn_inputs(shape=(2, 3, 2, 5))
    ct = jnp.asarray(np.random.default_rng(3).standard_normal(x.shape))
    got, want = _vjps("layer_norm", (x, scale, bias), ct, eps=1e-3)
    _assert_close(got, want)


def test_layer_norm_single_feature_gives_bias_and_zero_x_gradient():
    x = jnp.array([[3.0], [-1.0]])
    scale, bias = jnp.array([2.0]), jnp.array([0.5])
    y, vjp = jax.vjp(ops.layer_norm, x, scale, bias)
    assert y.tolist() == [[0.5], [0.5]]
    ct_x, ct_scale, ct_bias = vjp(jnp.array([[1.0], [2.0]]))
    assert ct_x.tolist() == [[0.0], [0.0]] and ct_scale.tolist() == [0.0]
    assert ct_bias.tolist() == [3.0]


_X, _C = jnp.ones((4, 3)), jnp.ones(3)


@pytest.mark.parametrize(
    ("op", "args", "kwargs", "error", "match"),
    [
        (
            "batch_norm",
            (jnp.ones(3), _C, _C),
            {},
            ValueError,
            r"batch_norm: `x` must have rank >= 2 \(N, ..., C\), got shape \(3,\)",
        ),
        (
            "batch_norm",
            (_X, jnp.ones(4), _C),
            {},
            ValueError,
            r"batch_norm: `scale` must be None or have shape \(3,\) to match x's last axis, "
            r"got \(4,\)",
        ),
        (
            "batch_norm",
            (_X, _C, jnp.ones((1, 3))),
            {},
            ValueError,
            r"batch_norm: `bias` must be None or have shape \(3,\)",
        ),
        ("batch_norm", (_X, _C, _C), {"eps": 0.0}, ValueError, r"batch_norm: `eps` must be > 0"),
        (
            "batch_norm",
            (_X, _C, _C),
            {"eps": None},
            TypeError,
            r"batch_norm: `eps` must be a float",
        ),
        (
            "batch_norm",
            (_X, _C.astype(jnp.float32), _C),
            {},
            TypeError,
            r"batch_norm: arrays must share one dtype",
        ),
        (
            "batch_norm",
            (_X.astype(jnp.int32), _C, _C),
            {},
            TypeError,
            r"batch_norm: `x` must be a floating-point array",
        ),
        (
            "layer_norm",
            (jnp.float64(1.0), _C, _C),
            {},
            ValueError,
            r"layer_norm: `x` must have rank >= 1",
        ),
        (
            "layer_norm",
            (_X, jnp.ones(2), _C),
            {},
            ValueError,
            r"layer_norm: `scale` must be None or have shape \(3,\)",
        ),
        ("layer_norm", (_X, _C, _C), {"eps": -1e-5}, ValueError, r"layer_norm: `eps` must be > 0"),
    ],
)
def test_validation_messages(op, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(ops, op)(*args, **kwargs)


# ------------------------------------------------------------------ round 2: new ops and forms


def test_group_norm_with_one_channel_per_group_is_instance_norm():
    x, scale, bias = _bn_inputs(shape=(2, 3, 4, 5))
    got = ops.group_norm(x, scale, bias, num_groups=5)
    np.testing.assert_array_equal(got, ops.instance_norm(x, scale, bias))
    xn = np.asarray(x)
    want = (xn - xn.mean((1, 2), keepdims=True)) / np.sqrt(xn.var((1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, want * np.asarray(scale) + np.asarray(bias), rtol=1e-12)


def test_one_channel_per_group_keeps_the_plain_layout_and_matches_reference():
    # G = C keeps (N, ..., C) residuals (no trailing unit axis: slow reductions on XLA:CPU);
    # rank 2 with G = C normalises single elements: y = bias and a zero x gradient.
    x, scale, bias = _bn_inputs(shape=(2, 3, 4, 5))
    _, res = norm_group_module._group_norm_fwd(x, scale, bias, 5, 1e-5, True)
    assert res.x_hat.shape == x.shape and res.inv_std.shape == (2, 1, 1, 5)
    for shape in ((2, 3, 4, 5), (3, 4)):
        x, scale, bias = _bn_inputs(seed=1, shape=shape)
        c = shape[-1]
        ct = jnp.asarray(np.random.default_rng(2).standard_normal(shape))
        got, want = _vjps("group_norm", (x, scale, bias), ct, num_groups=c)
        _assert_close(got, want)
    np.testing.assert_allclose(
        ops.group_norm(x, scale, bias, num_groups=4), jnp.broadcast_to(bias, x.shape)
    )
    np.testing.assert_array_equal(got[0], jnp.zeros_like(x))


def test_group_norm_groups_are_contiguous_channel_blocks():
    # Channels [0, 1] and [2, 3]: group 1 is 10x group 0, so both normalise alike.
    x = jnp.array([[[1.0, 2.0, 10.0, 20.0], [3.0, 5.0, 30.0, 50.0]]])
    y = ops.group_norm(x, None, None, num_groups=2, eps=1e-12)
    np.testing.assert_allclose(y[..., :2], y[..., 2:], rtol=1e-12)


def test_none_scale_and_bias_equal_ones_and_zeros_and_get_no_cotangent():
    x, _, _ = _bn_inputs(shape=(3, 2, 4))
    one, zero = jnp.ones(4), jnp.zeros(4)
    for op, kw in (("batch_norm", {}), ("group_norm", {"num_groups": 2}), ("layer_norm", {})):
        f = getattr(ops, op)
        y, vjp = jax.vjp(lambda a, f=f, kw=kw: f(a, None, None, **kw), x)
        want, vjp1 = jax.vjp(lambda a, f=f, kw=kw: f(a, one, zero, **kw), x)
        np.testing.assert_array_equal(jax.tree.leaves(y)[0], jax.tree.leaves(want)[0])
        cts = jax.tree.map(jnp.ones_like, y)
        np.testing.assert_allclose(vjp(cts)[0], vjp1(cts)[0], rtol=1e-12, atol=1e-14)


def test_layer_norm_over_hwc_matches_torch_layout_statistics():
    x, _, _ = _bn_inputs(shape=(2, 3, 4, 5))
    y = ops.layer_norm(x, None, None, axis=(-3, -2, -1), eps=1e-12)
    np.testing.assert_allclose(np.asarray(y).reshape(2, -1).mean(1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(y).reshape(2, -1).var(1), 1.0, rtol=1e-10)


def test_batch_norm_inference_closed_form_gradients():
    x, scale, bias = _bn_inputs(shape=(4, 3))
    mean, var = jnp.array([0.5, -1.0, 2.0]), jnp.array([1.0, 4.0, 0.25])
    ct = jnp.asarray(np.random.default_rng(5).standard_normal(x.shape))
    got = jax.vjp(ops.batch_norm_inference, x, mean, var, scale, bias)[1](ct)
    r = 1 / np.sqrt(np.asarray(var) + 1e-5)
    x_hat = (np.asarray(x) - np.asarray(mean)) * r
    g, ctn = np.asarray(scale), np.asarray(ct)
    want = (ctn * g * r, -g * r * ctn.sum(0), -0.5 * g * r**2 * (ctn * x_hat).sum(0))
    for a, b in zip(got[:3], want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_array_likes_are_accepted():
    x = [[1.0, 2.0], [3.0, 6.0]]
    y, _, _ = ops.batch_norm(x, None, np.zeros(2), eps=1e-12)
    assert y.round(6).tolist() == [[-1.0, -1.0], [1.0, 1.0]]
    assert ops.group_norm(np.asarray(x), None, None, num_groups=1).shape == (2, 2)


_X3 = jnp.ones((2, 3, 4))


@pytest.mark.parametrize(
    ("op", "args", "kwargs", "error", "match"),
    [
        ("batch_norm", (jnp.ones((0, 3)), None, None), {}, ValueError, r"at least one position"),
        ("group_norm", (_X3, None, None), {"num_groups": 3}, ValueError, r"divide C=4, got 3"),
        ("group_norm", (_X3, None, None), {"num_groups": 0}, ValueError, r"`num_groups` must"),
        ("group_norm", (_X3, None, None), {"num_groups": 2.0}, TypeError, r"`num_groups` must"),
        ("group_norm", (_X3, jnp.ones(2), None), {"num_groups": 2}, ValueError, r"`scale` must"),
        ("instance_norm", (jnp.ones((2, 3)), None, None), {}, ValueError, r"rank >= 3"),
        ("layer_norm", (_X3, None, None), {"axis": (0, 2)}, ValueError, r"trailing axes"),
        ("layer_norm", (_X3, None, None), {"axis": 3}, ValueError, r"`axis` 3 out of range"),
        ("layer_norm", (_X3, jnp.ones(4), None), {"axis": (1, 2)}, ValueError, r"`scale` must"),
        (
            "batch_norm_inference",
            (_X3, jnp.ones(4), jnp.ones(3), None, None),
            {},
            ValueError,
            r"batch_norm_inference: `var` must be None or have shape \(4,\)",
        ),
    ],
)
def test_round2_validation_messages(op, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(ops, op)(*args, **kwargs)
