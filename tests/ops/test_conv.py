"""conv2d beyond the generic grid: the gradient helpers, a random-configuration property test,
every validation message, bfloat16 and jit with static configuration."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnjax import reference
from cnnjax.audit.tolerances import relative_error
from cnnjax.ops import conv2d, conv2d_grad_input, conv2d_grad_weight
from cnnjax.ops.geometry import WindowGeometry

TOL = 1e-10  # float64


def _arrays(seed, x_shape, w_shape, dtype=jnp.float64):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(x_shape), dtype)
    w = jnp.asarray(rng.standard_normal(w_shape), dtype)
    b = jnp.asarray(rng.standard_normal(w_shape[3]), dtype)
    return x, w, b


def _close(got, want, what, tol=TOL):
    assert jnp.shape(got) == jnp.shape(want), f"{what}: shape {got.shape} != {want.shape}"
    _, rel, idx = relative_error(got, want)
    assert rel <= tol, f"{what}: relative error {rel:.2e} at {idx}"


# (x_shape, w_shape, config): stride remainders (r > 0), asymmetric pads, groups, dilation
HELPER_CONFIGS = [
    ((2, 8, 6, 3), (3, 3, 3, 4), dict(stride=2)),  # r = 1 in H and W
    ((1, 9, 7, 2), (2, 3, 2, 3), dict(stride=(3, 2), padding=((2, 0), (0, 3)))),  # r = 2, 0
    ((2, 9, 8, 4), (3, 2, 2, 6), dict(stride=2, dilation=(2, 3), groups=2, padding=1)),
    ((2, 7, 6, 3), (3, 3, 1, 6), dict(stride=3, groups=3, padding="SAME")),  # depthwise x2
    ((1, 5, 4, 2), (5, 4, 2, 2), dict(padding=(1, 2), stride=2)),  # full-size kernel
]


@pytest.mark.parametrize("x_shape, w_shape, config", HELPER_CONFIGS)
def test_grad_helpers_equal_reference_vjp(x_shape, w_shape, config):
    x, w, _ = _arrays(0, x_shape, w_shape)
    y, vjp = jax.vjp(functools.partial(reference.conv2d, **config), x, w)
    ct = jnp.asarray(np.random.default_rng(1).standard_normal(y.shape))
    want_x, want_w = vjp(ct)
    got_x = conv2d_grad_input(ct, w, x.shape, **config)
    got_w = conv2d_grad_weight(x, ct, w.shape, **config)
    _close(got_x, want_x, "conv2d_grad_input")
    _close(got_w, want_w, "conv2d_grad_weight")
    # conv2d is bilinear: <conv(x, w), ct> = <x, grad_input> = <w, grad_weight>
    inner = jnp.vdot(y, ct)
    assert abs(float(jnp.vdot(x, got_x) - inner)) <= 1e-10 * abs(float(inner)) + 1e-12
    assert abs(float(jnp.vdot(w, got_w) - inner)) <= 1e-10 * abs(float(inner)) + 1e-12


def test_stride_remainder_rows_get_zero_input_gradient():
    # H = 8, k = 3, s = 2, VALID: windows start at rows 0, 2, 4 and end at row 6; row 7 (r = 1)
    # is never read, so its gradient is exactly zero, while row 6 is not.
    x, w, _ = _arrays(2, (2, 8, 8, 2), (3, 3, 2, 3))
    ct = jnp.ones((2, 3, 3, 3))
    ct_x = conv2d_grad_input(ct, w, x.shape, stride=2)
    assert jnp.all(ct_x[:, 7, :, :] == 0) and jnp.all(ct_x[:, :, 7, :] == 0)
    assert jnp.any(ct_x[:, 6, :, :] != 0)


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    c, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    same_sd = draw(st.booleans())  # int forms when True
    s, d = st.integers(1, 3), st.integers(1, 2)
    stride = draw(s) if same_sd else (draw(s), draw(s))
    dilation = draw(d) if same_sd else (draw(d), draw(d))
    dil = (dilation, dilation) if same_sd else dilation
    eff = [di * (k - 1) + 1 for di, k in zip(dil, kernel, strict=True)]
    hw = [draw(st.integers(e, e + 5)) for e in eff]  # fits whatever the padding
    p = st.integers(0, 2)
    padding = draw(
        st.sampled_from(["VALID", "SAME"])
        | p
        | st.tuples(p, p)
        | st.tuples(st.tuples(p, p), st.tuples(p, p))
    )
    x_shape = (draw(st.integers(1, 2)), *hw, c)
    w_shape = (*kernel, c // groups, c_out)
    config = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x_shape, w_shape, config, draw(st.booleans()), draw(st.integers(0, 2**16))


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_random_configurations_match_reference(cfg):
    x_shape, w_shape, config, bias, seed = cfg
    x, w, b = _arrays(seed, x_shape, w_shape)
    args = (x, w, b) if bias else (x, w)
    y_shape = jax.eval_shape(functools.partial(reference.conv2d, **config), *args).shape
    ct = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(y_shape))

    @jax.jit  # one program per example (a few times cheaper to compile than eager dispatch)
    def both(args, ct):
        y, vjp = jax.vjp(functools.partial(conv2d, **config), *args)
        y_ref, vjp_ref = jax.vjp(functools.partial(reference.conv2d, **config), *args)
        return (y, vjp(ct)), (y_ref, vjp_ref(ct))

    (y, grads), (y_ref, grads_ref) = both(args, ct)
    _close(y, y_ref, "forward")
    for k, (g, r) in enumerate(zip(grads, grads_ref, strict=True)):
        _close(g, r, f"vjp[{k}]")


def test_no_bias_gives_no_bias_cotangent():
    x, w, _ = _arrays(3, (1, 4, 4, 2), (3, 3, 2, 2))
    _, vjp = jax.vjp(conv2d, x, w, None)
    ct_x, ct_w, ct_b = vjp(jnp.ones((1, 2, 2, 2)))
    assert ct_b is None and ct_x.shape == x.shape and ct_w.shape == w.shape


# ------------------------------------------------------------------------------- validation

X = jnp.ones((2, 6, 6, 4))
W = jnp.ones((3, 3, 4, 2))

CONV_ERRORS = [
    (ValueError, r"conv2d: `x` must have rank 4", (jnp.ones((3, 4)), W), {}),
    (ValueError, r"conv2d: `w` must have rank 4", (X, jnp.ones((3, 3, 4))), {}),
    (ValueError, r"conv2d: `b` must have shape \(C_out,\) = \(2,\)", (X, W, jnp.ones(3)), {}),
    (ValueError, r"conv2d: `b` must have shape", (X, W, jnp.ones((1, 2))), {}),
    (
        ValueError,
        r"`w` expects C_in/groups=4 but the input has C=4 and groups=2",
        (X, W),
        dict(groups=2),
    ),
    (
        ValueError,
        r"`w` expects C_in/groups=2 but the input has C=4 and groups=1",
        (X, jnp.ones((3, 3, 2, 2))),
        {},
    ),
    (
        ValueError,
        r"`groups`=3 must divide the input channels C=4",
        (X, jnp.ones((3, 3, 1, 3))),
        dict(groups=3),
    ),
    (
        ValueError,
        r"`groups`=2 must divide the output channels C_out=3",
        (X, jnp.ones((3, 3, 2, 3))),
        dict(groups=2),
    ),
    (ValueError, r"`groups` must be >= 1, got 0", (X, W), dict(groups=0)),
    (TypeError, r"`groups` must be an int", (X, W), dict(groups=1.0)),
    (ValueError, r"`stride` must be >= 1", (X, W), dict(stride=0)),
    (ValueError, r"`stride` must be >= 1", (X, W), dict(stride=(1, -2))),
    (ValueError, r"`dilation` must be >= 1", (X, W), dict(dilation=(1, 0))),
    (TypeError, r"`stride` must be an int or a pair", (X, W), dict(stride=1.5)),
    (ValueError, r"conv2d: unknown `padding` 'FULL'", (X, W), dict(padding="FULL")),
    (ValueError, r"`padding` must be non-negative", (X, W), dict(padding=-1)),
    (ValueError, r"`padding` must be non-negative", (X, W), dict(padding=((1, -1), (0, 0)))),
    (TypeError, r"`padding` must be", (X, W), dict(padding=(1, 2, 3))),
    (
        ValueError,
        r"conv2d: effective kernel .* larger than the padded input \(H: 6",
        (X, W),
        dict(dilation=3),
    ),
    (ValueError, r"larger than the padded input \(W: 6", (X, jnp.ones((1, 8, 4, 2))), {}),
    (
        TypeError,
        r"conv2d: arrays must share one dtype, got `x` float32, `w` float64",
        (X.astype(jnp.float32), W),
        {},
    ),
    (TypeError, r"`b` float32", (X, W, jnp.ones(2, jnp.float32)), {}),
    (
        TypeError,
        r"conv2d: `x` must be a floating-point array, got dtype int",
        (jnp.ones((2, 6, 6, 4), jnp.int32), W),
        {},
    ),
    (TypeError, r"conv2d: `w` must be a floating-point", (X, W.astype(jnp.int32)), {}),
    (TypeError, r"conv2d: `b` must be a floating-point", (X, W, jnp.ones(2, jnp.int32)), {}),
    # issue 12: an XLA verifier error before
    (ValueError, r"conv2d: `w` must have no zero dimension", (X, jnp.ones((0, 3, 4, 2))), {}),
    (ValueError, r"conv2d: `w` must have no zero dimension", (X, jnp.ones((3, 3, 4, 0))), {}),
    (ValueError, r"conv2d: `x` must hold at least one example", (X[:0], W), {}),
]


@pytest.mark.parametrize(
    "error, match, args, kwargs", CONV_ERRORS, ids=[m for _, m, _, _ in CONV_ERRORS]
)
def test_conv2d_validation(error, match, args, kwargs):
    with pytest.raises(error, match=match):
        conv2d(*args, **kwargs)


def test_conv2d_validation_works_under_jit():
    f = jax.jit(functools.partial(conv2d, groups=3))
    with pytest.raises(ValueError, match="`groups`=3 must divide the input channels"):
        f(X, jnp.ones((3, 3, 1, 3)))


CT = jnp.ones((2, 4, 4, 2))  # the output cotangent of conv2d(X, W)

HELPER_ERRORS = [
    (conv2d_grad_input, (CT, W, (2, 6, 6)), ValueError, r"`input_shape` must be 4 positive"),
    (
        conv2d_grad_input,
        (CT, W, (2, 7, 7, 4)),
        ValueError,
        r"conv2d_grad_input: `ct_y` must have the output shape \(2, 5, 5, 2\)",
    ),
    (conv2d_grad_input, (CT[0], W, X.shape), ValueError, r"`ct_y` must have rank 4"),
    (conv2d_grad_input, (CT, W, (2, 6, 6, 8)), ValueError, r"`w` expects C_in/groups=4"),
    (conv2d_grad_input, (CT.astype(jnp.float32), W, X.shape), TypeError, r"share one dtype"),
    (conv2d_grad_weight, (X, CT, (3, 3, 4)), ValueError, r"`kernel_shape` must be 4 positive"),
    (
        conv2d_grad_weight,
        (X, CT, (3, 3, 2, 2)),
        ValueError,
        r"conv2d_grad_weight: `kernel_shape` expects C_in/groups=2",
    ),
    (conv2d_grad_weight, (X, CT, (2, 2, 4, 2)), ValueError, r"`ct_y` must have the output"),
    (conv2d_grad_weight, (X[0], CT, W.shape), ValueError, r"`x` must have rank 4"),
    # issue 12: N = 0 was blamed on `input_shape`
    (conv2d_grad_input, (CT[:0], W, X[:0].shape), ValueError, r"`ct_y` must hold at least one"),
    (conv2d_grad_weight, (X[:0], CT[:0], W.shape), ValueError, r"`x` must hold at least one"),
    (conv2d_grad_input, (CT, W[:, :, :, :0], X.shape), ValueError, r"`w` must have no zero"),
]


@pytest.mark.parametrize(
    "fn, args, error, match", HELPER_ERRORS, ids=[m for _, _, _, m in HELPER_ERRORS]
)
def test_grad_helper_validation(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args, stride=1)


# ------------------------------------------------------------------------ dtypes and jit


def test_bfloat16_stays_bfloat16_and_accumulates_in_float32():
    # 300 ones summed: bfloat16 accumulation would stall at 256 (its spacing there is 2, and
    # 256 + 1 rounds back to 256); float32 accumulation gives 300, exact in bfloat16.
    x = jnp.ones((1, 1, 1, 300), jnp.bfloat16)
    w = jnp.ones((1, 1, 300, 1), jnp.bfloat16)
    b = jnp.zeros((1,), jnp.bfloat16)
    y, vjp = jax.vjp(conv2d, x, w, b)
    assert y.dtype == jnp.bfloat16 and y.tolist() == [[[[300.0]]]]
    ct_x, ct_w, ct_b = vjp(jnp.ones_like(y))
    assert (ct_x.dtype, ct_w.dtype, ct_b.dtype) == (jnp.bfloat16,) * 3


def test_jit_with_static_configuration():
    x, w, b = _arrays(4, (2, 7, 6, 4), (3, 2, 2, 4))
    config = dict(stride=(2, 1), padding=((1, 0), (0, 1)), dilation=2, groups=2)
    jitted = jax.jit(conv2d, static_argnames=("stride", "padding", "dilation", "groups"))
    _close(jitted(x, w, b, **config), conv2d(x, w, b, **config), "jit vs eager", tol=0)
    grad = jax.jit(jax.grad(lambda *a: jnp.sum(conv2d(*a, **config) ** 2), argnums=(0, 1, 2)))
    want = jax.grad(lambda *a: jnp.sum(reference.conv2d(*a, **config) ** 2), argnums=(0, 1, 2))
    for k, (g, r) in enumerate(zip(grad(x, w, b), want(x, w, b), strict=True)):
        _close(g, r, f"jit grad[{k}]")


# (x_shape, w_shape, geometry): one input channel per group, as the tap-sum path takes them;
# the last has the negative (cropping) padding conv2d_grad_input gives it.
TAP_CONFIGS = [
    ((2, 9, 8, 1), (3, 3, 1, 4), dict(stride=(2, 1), padding=((2, 0), (1, 1)), dilation=1)),
    ((1, 8, 9, 3), (3, 2, 1, 6), dict(stride=1, padding=((1, 1), (0, 1)), dilation=(2, 1))),
    ((2, 7, 7, 2), (5, 5, 1, 2), dict(stride=3, padding=((2, 2), (2, 2)), dilation=1)),
    ((2, 8, 6, 4), (3, 3, 1, 4), dict(stride=1, padding=((-1, 2), (1, -1)), dilation=1)),
    # one group, >= 16 taps: the patch-matrix product
    ((2, 11, 10, 1), (5, 4, 1, 3), dict(stride=(2, 1), padding=((2, 1), (0, 3)), dilation=(1, 2))),
    ((3, 9, 9, 1), (4, 4, 1, 7), dict(stride=1, padding=((-1, 3), (2, 1)), dilation=1)),
]


@pytest.mark.parametrize("x_shape, w_shape, geometry", TAP_CONFIGS)
def test_tap_sum_equals_lax_convolution(x_shape, w_shape, geometry):
    from cnnjax.ops import _conv_taps

    x, w, _ = _arrays(5, x_shape, w_shape)
    groups = x_shape[3]
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    geo = WindowGeometry(  # built directly: negative padding (a crop) is allowed here
        x_shape[1:3],
        w_shape[:2],
        pair(geometry["stride"]),
        pair(geometry["dilation"]),
        geometry["padding"],
    )
    want = jax.lax.conv_general_dilated(
        x,
        w,
        geo.stride,
        geo.padding,
        rhs_dilation=geo.dilation,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )
    assert _conv_taps.use_taps(w.shape, groups)
    taps = w_shape[0] * w_shape[1]
    patch_bytes = taps * x.shape[0] * want.shape[1] * want.shape[2] * 4
    by = "tap sum"
    if _conv_taps.use_patch_product(w.shape, groups, patch_bytes):
        by = "patch product"
    assert by == ("patch product" if groups == 1 and taps >= 16 else "tap sum")
    assert geo.out_hw == want.shape[1:3]
    _close(_conv_taps.tap_sum_conv(x, w, geo, groups), want, by)


def _compiled_hlo(fn, *args):
    return jax.jit(fn).lower(*args).compile().as_text()


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the tap path is CPU-only")
def test_cpu_runs_one_channel_per_group_by_taps_and_the_rest_by_lax():
    x1, w1, _ = _arrays(6, (2, 8, 8, 1), (3, 3, 1, 4))
    x4, w4, _ = _arrays(6, (2, 8, 8, 4), (3, 3, 1, 4))  # depthwise
    x2, w2, _ = _arrays(6, (2, 8, 8, 2), (3, 3, 2, 4))
    conv = functools.partial(conv2d, padding="SAME")
    assert "convolution(" not in _compiled_hlo(conv, x1, w1)
    assert "convolution(" not in _compiled_hlo(functools.partial(conv, groups=4), x4, w4)
    assert "convolution(" in _compiled_hlo(conv, x2, w2)
    # the depthwise input gradient (unit stride, multiplier 1) is a tap sum too
    grad_x = functools.partial(conv2d_grad_input, input_shape=x4.shape, padding="SAME", groups=4)
    assert "convolution(" not in _compiled_hlo(grad_x, x4, w4)
    # one input channel and a 5x5 kernel: one matrix product of the patch matrix
    x5, w5, _ = _arrays(6, (2, 8, 8, 1), (5, 5, 1, 6))
    hlo5 = _compiled_hlo(conv, x5, w5)
    assert "convolution(" not in hlo5 and " dot(" in hlo5
    assert " dot(" not in _compiled_hlo(conv, x1, w1)  # 3x3: the elementwise tap sum


def test_patch_product_is_bounded_by_its_temp_memory():
    from cnnjax.ops import _conv_taps

    assert _conv_taps.use_patch_product((5, 5, 1, 6), 1, _conv_taps.MAX_PATCH_BYTES)
    assert not _conv_taps.use_patch_product((5, 5, 1, 6), 1, _conv_taps.MAX_PATCH_BYTES + 1)
    assert not _conv_taps.use_patch_product((3, 3, 1, 6), 1, 1024)
    assert not _conv_taps.use_patch_product((5, 5, 1, 6), 6, 1024)  # depthwise: tap sum
