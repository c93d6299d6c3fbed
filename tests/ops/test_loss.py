"""Hand-built tests of log_softmax and softmax_cross_entropy: labels, smoothing, stability."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnjax import ops, reference


def _problem(seed=0, n=7, k=10):
    rng = np.random.default_rng(seed)
    logits = jnp.asarray(rng.standard_normal((n, k)))
    labels = jnp.asarray(rng.integers(0, k, size=n), jnp.int32)
    return logits, labels


def test_grad_wrt_logits_works_with_integer_labels():
    logits, labels = _problem()
    grad = jax.grad(lambda l: ops.softmax_cross_entropy(l, labels).sum())(logits)
    want = jax.nn.softmax(logits) - jax.nn.one_hot(labels, 10, dtype=logits.dtype)
    np.testing.assert_allclose(grad, want, rtol=0, atol=1e-12)


def test_labels_get_no_gradient():
    logits, labels = _problem()

    def f(l, y):
        return ops.softmax_cross_entropy(l, y).sum()

    with pytest.raises(TypeError, match="grad requires real- or complex-valued inputs"):
        jax.grad(f, argnums=1)(logits, labels)
    ct_labels = jax.grad(f, argnums=1, allow_int=True)(logits, labels)
    assert ct_labels.dtype == jax.dtypes.float0 and ct_labels.shape == labels.shape
    _, vjp = jax.vjp(f, logits, labels)
    assert vjp(jnp.float64(1.0))[1].dtype == jax.dtypes.float0


def test_label_smoothing_matches_hand_computed_value_and_gradient():
    # softmax(log([1, 2, 3, 4])) = [0.1, 0.2, 0.3, 0.4]; label 3, eps 0.1, K 4:
    # target = 0.9 * onehot(3) + 0.025 = [0.025, 0.025, 0.025, 0.925].
    logits = jnp.log(jnp.array([[1.0, 2.0, 3.0, 4.0]]))
    labels = jnp.array([3])
    p = [0.1, 0.2, 0.3, 0.4]
    target = [0.025, 0.025, 0.025, 0.925]
    want_loss = -sum(t * math.log(q) for t, q in zip(target, p, strict=True))
    loss, vjp = jax.vjp(lambda l: ops.softmax_cross_entropy(l, labels, label_smoothing=0.1), logits)
    assert loss.shape == (1,)
    assert abs(float(loss[0]) - want_loss) < 1e-12
    np.testing.assert_allclose(
        vjp(jnp.array([2.0]))[0],
        [[2 * (q - t) for q, t in zip(p, target, strict=True)]],
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32, jnp.bfloat16])
def test_huge_logits_give_finite_exact_results(dtype):
    big = 2.0**14  # above 1e4 and exact in every dtype, so the results below are exact too
    logits = jnp.array([[big, -big, 0.0], [-big, -big, big]], dtype)
    labels = jnp.array([1, 2])
    for eps in (0.0, 0.1):
        loss, vjp = jax.vjp(
            lambda l, eps=eps: ops.softmax_cross_entropy(l, labels, label_smoothing=eps), logits
        )
        (grad,) = vjp(jnp.ones(2, dtype))
        assert bool(jnp.all(jnp.isfinite(loss))) and bool(jnp.all(jnp.isfinite(grad)))
    # Without smoothing: loss = max - logit[label]; grad = onehot(argmax) - onehot(label).
    loss, vjp = jax.vjp(lambda l: ops.softmax_cross_entropy(l, labels), logits)
    assert loss.astype(jnp.float64).tolist() == [2 * big, 0.0]
    assert vjp(jnp.ones(2, dtype))[0].astype(jnp.float64).tolist() == [
        [1.0, -1.0, 0.0],
        [0.0, 0.0, 0.0],
    ]
    y = ops.log_softmax(logits)
    assert y.astype(jnp.float64).tolist() == [[0.0, -2 * big, -big], [-2 * big, -2 * big, 0.0]]
    assert bool(jnp.all(jnp.isfinite(jax.grad(lambda l: ops.log_softmax(l)[:, 0].sum())(logits))))


@pytest.mark.parametrize("shape", [(7, 10), (1, 2), (2, 3, 5)])
def test_matches_optax_without_smoothing(shape):
    rng = np.random.default_rng(3)
    logits = jnp.asarray(rng.standard_normal(shape))
    labels = jnp.asarray(rng.integers(0, shape[-1], size=shape[:-1]), jnp.int32)
    got = ops.softmax_cross_entropy(logits, labels)
    want = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    g = jax.grad(lambda l: ops.softmax_cross_entropy(l, labels).sum())(logits)
    g_ref = jax.grad(lambda l: optax.softmax_cross_entropy_with_integer_labels(l, labels).sum())
    np.testing.assert_allclose(g, g_ref(logits), rtol=0, atol=1e-13)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_out_of_range_labels_give_the_documented_smoothing_only_loss(eps):
    logits, _ = _problem(n=3, k=4)
    labels = jnp.array([-1, 4, 100], jnp.int32)
    loss, vjp = jax.vjp(lambda l: ops.softmax_cross_entropy(l, labels, label_smoothing=eps), logits)
    logp = jax.nn.log_softmax(logits)
    np.testing.assert_allclose(loss, -(eps / 4) * logp.sum(-1), rtol=1e-13, atol=1e-300)
    ct = jnp.array([1.0, -2.0, 0.5])
    want = jax.vjp(
        lambda l: reference.softmax_cross_entropy(l, labels, label_smoothing=eps), logits
    )[1](ct)[0]
    np.testing.assert_allclose(vjp(ct)[0], want, rtol=0, atol=1e-13)


def test_log_softmax_matches_jax_nn_and_normalises():
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.standard_normal((3, 4, 5)))
    for axis in (0, 1, -1):
        y = ops.log_softmax(x, axis=axis)
        np.testing.assert_allclose(y, jax.nn.log_softmax(x, axis=axis), rtol=1e-13)
        np.testing.assert_allclose(jnp.exp(y).sum(axis), 1.0, rtol=1e-13)


def test_log_softmax_gradient_of_a_sum_over_the_axis_is_zero():
    # sum_i log p_i = sum_i x_i - K log Z: its gradient is 1 - K p, and the sum over the axis of
    # ct - p * sum(ct) with ct = 1 is K - K = 0; here checked elementwise against 1 - K p.
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal((2, 6)))
    g = jax.grad(lambda v: ops.log_softmax(v).sum())(x)
    np.testing.assert_allclose(g, 1.0 - 6 * jax.nn.softmax(x), rtol=0, atol=1e-13)


def test_jit():
    logits, labels = _problem()
    f = jax.jit(lambda l, y: ops.softmax_cross_entropy(l, y, label_smoothing=0.2))
    want = ops.softmax_cross_entropy(logits, labels, label_smoothing=0.2)
    np.testing.assert_allclose(f(logits, labels), want, rtol=1e-14)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (
            (jnp.ones((2, 3)), jnp.ones(2)),
            {},
            ValueError,
            r"softmax_cross_entropy: probability `labels` must have logits' shape \(2, 3\)",
        ),
        (
            (jnp.ones((2, 3)), jnp.zeros((2, 1), jnp.int32)),
            {},
            ValueError,
            r"`labels` must have shape logits.shape\[:-1\]=\(2,\), got \(2, 1\)",
        ),
        (
            (jnp.ones((2, 3)), jnp.zeros(2, jnp.int32)),
            {"label_smoothing": 1.5},
            ValueError,
            r"`label_smoothing` must be in \[0, 1\], got 1.5",
        ),
        (
            (jnp.ones((2, 3)), jnp.zeros(2, jnp.int32)),
            {"label_smoothing": -0.1},
            ValueError,
            r"`label_smoothing` must be in \[0, 1\]",
        ),
        (
            (jnp.ones((2, 3)), jnp.zeros(2, jnp.int32)),
            {"label_smoothing": "0.1"},
            TypeError,
            r"`label_smoothing` must be a float",
        ),
        (
            (jnp.ones((2, 3), jnp.int32), jnp.zeros(2, jnp.int32)),
            {},
            TypeError,
            r"softmax_cross_entropy: `logits` must be a floating-point array",
        ),
        (
            (jnp.float64(1.0), jnp.int32(0)),
            {},
            ValueError,
            r"softmax_cross_entropy: `logits` must be \(N, K\) with K >= 1 classes",
        ),
    ],
)
def test_softmax_cross_entropy_validation(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ops.softmax_cross_entropy(*args, **kwargs)


def test_log_softmax_validation():
    with pytest.raises(ValueError, match=r"log_softmax: `axis` 2 is out of range for rank 2"):
        ops.log_softmax(jnp.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"log_softmax: `axis` must be an int"):
        ops.log_softmax(jnp.ones((2, 3)), axis=1.0)
    with pytest.raises(TypeError, match=r"log_softmax: `logits` must be a floating-point"):
        ops.log_softmax(jnp.ones((2, 3), jnp.int32))


# ------------------------------------------- round 2: weight, ignore_index, probabilities, K = 0


def test_zero_classes_is_a_clear_value_error():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: `logits` must be \(N, K\) with"):
        ops.softmax_cross_entropy(jnp.zeros((3, 0)), jnp.zeros(3, jnp.int32))


def test_weight_gradient_and_ignored_examples_match_the_reference():
    logits, labels = _problem(1, n=6, k=4)
    labels = labels.at[::2].set(2)
    weight = jnp.array([0.5, 1.0, 1.5, 2.0])
    kw = {"label_smoothing": 0.2, "ignore_index": 2}

    def total(module):
        return lambda l, w: module.softmax_cross_entropy(l, labels, weight=w, **kw).sum()

    got = jax.grad(total(ops), (0, 1))(logits, weight)
    want = jax.grad(total(reference), (0, 1))(logits, weight)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    loss = ops.softmax_cross_entropy(logits, labels, weight=weight, **kw)
    assert loss[::2].tolist() == [0.0, 0.0, 0.0]
    assert got[0][::2].tolist() == [[0.0] * 4] * 3


def test_probability_targets_are_differentiable():
    logits, _ = _problem(2, n=3, k=5)
    t = jax.nn.softmax(logits[::-1])

    def total(module):
        return lambda l, t: module.softmax_cross_entropy(l, t, label_smoothing=0.1).sum()

    got = jax.grad(total(ops), (0, 1))(logits, t)
    want = jax.grad(total(reference), (0, 1))(logits, t)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "labels", "error", "message"),
    [
        ({"weight": jnp.ones(3)}, None, ValueError, r"`weight` must have shape \(K,\)=\(4,\)"),
        ({"ignore_index": 1.5}, None, TypeError, "`ignore_index` must be an int or None"),
        ({"ignore_index": 0}, "prob", ValueError, "`ignore_index` needs integer labels"),
        ({}, jnp.zeros((2, 3)), ValueError, "probability `labels` must have logits' shape"),
        ({}, jnp.zeros(2, bool), TypeError, "`labels` must be integer or floating"),
    ],
)
def test_bad_round2_arguments_are_rejected(kwargs, labels, error, message):
    logits = jnp.zeros((2, 4))
    if labels is None:
        labels = jnp.zeros(2, jnp.int32)
    elif isinstance(labels, str):
        labels = jnp.full((2, 4), 0.25)
    with pytest.raises(error, match=message):
        ops.softmax_cross_entropy(logits, labels, **kwargs)


def test_mse_loss_values_gradients_and_errors():
    pred = jnp.array([[1.0, 3.0], [2.0, 0.0]])
    target = jnp.array([[0.0, 1.0], [2.0, 2.0]])
    loss, vjp = jax.vjp(ops.mse_loss, pred, target)
    assert loss.tolist() == [2.5, 2.0]
    ct_pred, ct_target = vjp(jnp.array([1.0, 2.0]))
    assert ct_pred.tolist() == [[1.0, 2.0], [0.0, -4.0]]
    assert ct_target.tolist() == [[-1.0, -2.0], [0.0, 4.0]]
    with pytest.raises(ValueError, match=r"mse_loss: `target` must have pred's shape"):
        ops.mse_loss(pred, target[0])
    with pytest.raises(TypeError, match="mse_loss: arrays must share one dtype"):
        ops.mse_loss(pred, target.astype(jnp.float32))


def test_softmax_sums_to_one_and_accepts_lists():
    p = ops.softmax([[1000.0, 0.0], [-1000.0, 1000.0]])
    np.testing.assert_array_equal(p, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="softmax: `axis` 2 is out of range for rank 2"):
        ops.softmax(jnp.zeros((2, 2)), axis=2)
