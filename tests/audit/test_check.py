"""``check_vjp`` catches deliberately wrong VJPs, each under the right check's name.

Every bug below is a small ``custom_vjp`` whose forward is right and whose bwd is wrong in one
specific way; each test asserts which checks fail and for which argument, and that the
correct twin passes every check.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax.audit import EdgeInput, GradientMismatchError, check_vjp

RNG = np.random.default_rng(0)


FIRST_ORDER = {"vjp", "fd_directional", "fd_jacobian", "dtype_vjp"}


def failed(result, checks=FIRST_ORDER) -> set[tuple[str, str]]:
    """(check, argument) of the failures among ``checks``; second-order checks mix arguments
    (d/dx <VJP_w, probe> is wrong when the w gradient is), so they are left out by default."""
    return {(c.check, c.argument) for c in result.failures if c.check in checks}


def custom(primal, fwd, bwd):
    """A fresh ``custom_vjp`` of ``primal`` with ``fwd -> (y, res)`` and ``bwd(res, ct)``."""
    f = jax.custom_vjp(functools.wraps(primal)(lambda *args: primal(*args)))
    f.defvjp(fwd, bwd)
    return f


# ------------------------------------------------------------------- matmul, scaled gradient


def _matmul(x, w):
    return x @ w


def _matmul_fwd(x, w):
    return x @ w, (x, w)


def matmul_good(res, ct):
    x, w = res
    return ct @ w.T, x.T @ ct


def matmul_scaled(res, ct):  # bug: the weight gradient is off by a factor 1.5
    x, w = res
    return ct @ w.T, 1.5 * (x.T @ ct)


def test_correct_function_passes_every_check():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
    result = check_vjp(custom(_matmul, _matmul_fwd, matmul_good), _matmul, x, w)
    assert result.passed, str(result)
    names = {c.check for c in result.checks}
    assert names == {
        "forward",
        "vjp",
        "fd_directional",
        "fd_jacobian",
        "jit",
        "vmap",
        "grad_of_grad",
        "jacfwd_of_grad",
        "dtype_forward",
        "dtype_vjp",
    }
    assert {c.argument for c in result.checks if c.check == "vjp"} == {"x", "w"}
    assert {c.dtype for c in result.checks} == {"float64", "float32", "bfloat16"}


def test_scale_factor_in_one_argument_is_flagged_for_that_argument():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
    result = check_vjp(custom(_matmul, _matmul_fwd, matmul_scaled), _matmul, x, w)
    bad = failed(result)
    assert {("vjp", "w"), ("fd_directional", "w"), ("fd_jacobian", "w")} <= bad
    assert {arg for _, arg in bad} == {"w"}, bad
    assert "forward" not in result.failed_checks() and "jit" not in result.failed_checks()
    worst = next(c for c in result.failures if c.check == "vjp")
    assert worst.rel_err == pytest.approx(0.5)  # |1.5 g - g| at the largest entry of g


def test_raise_on_failure_names_check_argument_and_element():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
    with pytest.raises(GradientMismatchError) as info:
        check_vjp(
            custom(_matmul, _matmul_fwd, matmul_scaled),
            _matmul,
            x,
            w,
            dtypes=(),
            second_order=False,
            raise_on_failure=True,
        )
    message = str(info.value)
    assert "vjp [float64] for `w`" in message and "at index (" in message
    assert "for `x`" not in message
    assert not info.value.result.passed


# ------------------------------------------------------------- 1-D conv, wrong at the border


def _conv1d(x, w):  # x (N, L), w (3,): "SAME" 3-tap correlation with zero padding
    xp = jnp.pad(x, ((0, 0), (1, 1)))
    return w[0] * xp[:, :-2] + w[1] * xp[:, 1:-1] + w[2] * xp[:, 2:]


def _conv1d_fwd(x, w):
    return _conv1d(x, w), (x, w)


def conv1d_wraps(res, ct):  # bug: jnp.roll wraps around where the padding should give zeros
    x, w = res
    ct_x = w[0] * jnp.roll(ct, -1, axis=1) + w[1] * ct + w[2] * jnp.roll(ct, 1, axis=1)
    xp = jnp.pad(x, ((0, 0), (1, 1)))
    length = x.shape[1]
    ct_w = jnp.stack([jnp.sum(ct * xp[:, k : k + length]) for k in range(3)])
    return ct_x, ct_w


def test_error_only_at_the_padding_border_is_flagged_at_the_border():
    x, w = RNG.standard_normal((2, 9)), RNG.standard_normal(3)
    result = check_vjp(custom(_conv1d, _conv1d_fwd, conv1d_wraps), _conv1d, x, w, dtypes=())
    assert {arg for _, arg in failed(result)} == {"x"}
    vjp_x = next(c for c in result.failures if c.check == "vjp")
    assert vjp_x.index[1] in (0, 8), vjp_x  # the worst element sits on the border column


# ------------------------------------------------------------ max pooling, wrong tie-breaking


def _pool(x):  # x (N, L): max over non-overlapping windows of 2
    return jnp.max(x.reshape(x.shape[0], -1, 2), axis=-1)


def _pool_reference(x):  # autodiff routes to the first maximum (argmax's convention)
    xw = x.reshape(x.shape[0], -1, 2)
    first = jnp.argmax(xw, axis=-1)[..., None]
    return jnp.take_along_axis(xw, first, axis=-1)[..., 0]


def _pool_fwd(x):
    xw = x.reshape(x.shape[0], -1, 2)
    last = 1 - jnp.argmax(xw[..., ::-1], axis=-1)  # bug: the last maximum wins ties
    return _pool(x), last


def _pool_bwd(last, ct):
    return ((jax.nn.one_hot(last, 2, dtype=ct.dtype) * ct[..., None]).reshape(ct.shape[0], -1),)


def test_wrong_tie_breaking_in_max_pooling_is_flagged_by_the_edge_convention():
    x = RNG.permutation(np.arange(24) * 0.25).reshape(2, 12)  # distinct, exact in bfloat16
    ties = EdgeInput("all windows tied", (np.zeros((2, 12)),))
    result = check_vjp(custom(_pool, _pool_fwd, _pool_bwd), _pool_reference, x, edge_inputs=[ties])
    assert result.failed_checks() == {"edge_convention"}, str(result)
    note = next(c for c in result.failures).note
    assert "all windows tied" in note


# ------------------------------------- an edge input that zeroes one gradient exactly


def _centred(x, w):  # d/dw[1] = sum(ct * (x - mean x)) is exactly 0 at a constant x
    return w[0] * x + w[1] * (x - jnp.mean(x))


def _centred_with_offset(delta):
    """``_centred`` whose w[1] gradient is off by ``delta``: 1e-14 is rounding noise, 1e-3 a bug."""

    def bwd(res, ct):
        x, w = res
        ct_x = w[0] * ct + w[1] * (ct - jnp.mean(ct))
        ct_w = jnp.stack([jnp.sum(ct * x), jnp.sum(ct * (x - jnp.mean(x))) + delta])
        return ct_x, ct_w

    return custom(_centred, lambda x, w: (_centred(x, w), (x, w)), bwd)


def test_edge_convention_judges_an_exactly_zero_gradient_on_the_scale_of_the_others():
    x, w = RNG.standard_normal(6), np.array([0.7, -1.3])
    constant = EdgeInput("constant x", (np.zeros(6), w))
    results = {
        delta: check_vjp(
            _centred_with_offset(delta), _centred, x, w, edge_inputs=[constant], dtypes=()
        )
        for delta in (1e-14, 1e-3)
    }
    assert results[1e-14].passed, str(results[1e-14])
    assert {("edge_convention", "w")} <= failed(results[1e-3], {"edge_convention"})


# ----------------------------------------------------------- conv2d, transposed weight grad


def _conv2d(x, w):
    return jax.lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def _conv2d_fwd(x, w):
    return _conv2d(x, w), (x, w)


def conv2d_transposed_w(res, ct):  # bug: the weight gradient's kernel axes come out swapped
    ct_x, ct_w = jax.vjp(_conv2d, *res)[1](ct)
    return ct_x, jnp.swapaxes(ct_w, 0, 1)


def test_transposed_weight_gradient_is_flagged_for_the_weight():
    x, w = RNG.standard_normal((2, 5, 4, 2)), RNG.standard_normal((3, 3, 2, 2))
    result = check_vjp(
        custom(_conv2d, _conv2d_fwd, conv2d_transposed_w),
        _conv2d,
        x,
        w,
        dtypes=(),
        second_order=False,
        full_jacobian_max=0,
    )
    assert {arg for _, arg in failed(result)} == {"w"}
    assert {"vjp", "fd_directional"} <= result.failed_checks()


# ----------------------------------------------- two outputs, the second cotangent dropped


def _center(x):  # (x - mean, mean) over the batch axis
    mean = jnp.mean(x, axis=0, keepdims=True)
    return x - mean, mean


def _center_fwd(x):
    return _center(x), None


def center_drops_mean_ct(_, ct):  # bug: the cotangent of the second output is ignored
    ct_y, _ct_mean = ct
    return (ct_y - jnp.mean(ct_y, axis=0, keepdims=True),)


def test_missing_cotangent_of_a_second_output_is_flagged_with_that_output():
    x = RNG.standard_normal((5, 3))
    result = check_vjp(custom(_center, _center_fwd, center_drops_mean_ct), _center, x, dtypes=())
    vjp_notes = {c.note: c.passed for c in result.checks if c.check == "vjp"}
    assert vjp_notes == {
        "cotangent on every output": False,
        "cotangent on output[0] only": True,
        "cotangent on output[1] only": False,
    }


# ---------------------------------------------- softplus, bwd overflowing in float32 only


def _softplus(x):
    return jnp.logaddexp(x, 0.0)


def _softplus_fwd(x):
    return _softplus(x), x


def softplus_overflows(x, ct):  # right in float64; exp(100) is inf in float32 -> inf/inf
    return (ct * jnp.exp(x) / (1 + jnp.exp(x)),)


def test_bwd_overflowing_in_float32_is_flagged_by_the_dtype_check():
    x = np.concatenate([RNG.standard_normal(6), [95.0, -3.0, 120.0]])
    result = check_vjp(
        custom(_softplus, _softplus_fwd, softplus_overflows), _softplus, x, dtypes=("float32",)
    )
    assert result.failed_checks() == {"dtype_vjp"}, str(result)
    assert {c.dtype for c in result.failures} == {"float32"}


# ------------------------------------------------- sin, bwd not differentiable (2nd order)


def _sin_fwd(x):
    return jnp.sin(x), x


def sin_stopped(x, ct):  # bug: stop_gradient makes the bwd wrong under grad-of-grad
    return (ct * jax.lax.stop_gradient(jnp.cos(x)),)


def test_bwd_wrong_under_differentiation_is_flagged_by_second_order_checks():
    x = RNG.standard_normal(7)
    result = check_vjp(custom(jnp.sin, _sin_fwd, sin_stopped), jnp.sin, x, dtypes=())
    assert result.failed_checks() == {"grad_of_grad", "jacfwd_of_grad"}


# ------------------------------------------------ pytrees, pass-through args, x64, errors


def _affine(params, x):
    return x @ params["w"] + params["b"][None, :]


def _affine_fwd(params, x):
    return _affine(params, x), (params, x)


def _affine_bwd(res, ct):
    params, x = res
    return {"w": x.T @ ct, "b": jnp.sum(ct, axis=0)}, ct @ params["w"].T


def _loss(affine):
    def loss(params, x, labels, key):
        logits = affine(params, x)
        logits = logits * jax.random.bernoulli(key, 0.9, (x.shape[0], 1)).astype(logits.dtype)
        return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1)[:, 0]

    return loss


def test_pytree_arguments_and_pass_through_labels_and_keys():
    params = {"w": RNG.standard_normal((3, 4)), "b": RNG.standard_normal(4)}
    x, labels = RNG.standard_normal((5, 3)), np.array([0, 3, 1, 2, 3], np.int32)
    key = jax.random.PRNGKey(1)
    result = check_vjp(
        _loss(custom(_affine, _affine_fwd, _affine_bwd)),
        _loss(_affine),
        params,
        x,
        labels,
        key,
        dtypes=("float32",),
    )
    assert result.passed, str(result)
    assert {c.argument for c in result.checks if c.check == "vjp"} == {
        "params['b']",
        "params['w']",
        "x",
    }


def test_works_with_x64_disabled_and_restores_it():
    with jax.enable_x64(False):
        x = jnp.linspace(-2.0, 2.0, 6)
        assert x.dtype == jnp.float32
        result = check_vjp(custom(jnp.sin, _sin_fwd, lambda x, ct: (ct * jnp.cos(x),)), jnp.sin, x)
        assert not jax.config.jax_enable_x64
    assert result.passed, str(result)
    fd = next(c for c in result.checks if c.check == "fd_jacobian")
    assert fd.rel_err < 1e-8  # central differences this accurate only happen in float64


def test_bad_arguments_raise_clear_errors():
    labels = np.array([1, 2])
    with pytest.raises(TypeError, match="`labels`"):
        check_vjp(lambda x, labels: x, lambda x, labels: x, np.ones(2), labels, argnums=(0, 1))
    with pytest.raises(ValueError, match="float16x"):
        check_vjp(jnp.sin, jnp.sin, np.ones(2), dtypes=("float16x",))


def test_a_function_that_raises_is_one_failed_check():
    def missing(x):
        raise NotImplementedError("missing")

    result = check_vjp(missing, jnp.sin, np.ones(3))
    assert len(result.checks) == 1 and result.failed_checks() == {"forward"}
    assert "NotImplementedError" in result.checks[0].note
