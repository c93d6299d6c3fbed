"""Pooling beyond the grid: the max-pool tie convention, residuals, PyTorch's
``count_include_pad=False``, bfloat16 accumulation, random configurations and validation."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnjax import ops, reference
from cnnjax.ops import pool
from cnnjax.ops.geometry import padding_2d, window_geometry


def _vjp(fn, x, ct):
    """``(y, ct @ dy/dx)``; ``ct=None`` is all ones (the gradient of ``sum(y)``).

    Forward and VJP compile as one jitted program (a few times cheaper to compile than the
    dozens of eager op-by-op dispatches); eager VJPs are the grid's ``vjp`` check.
    """

    @jax.jit
    def forward_and_vjp(x, ct):
        y, vjp = jax.vjp(fn, x)
        return y, vjp(jnp.ones_like(y) if ct is None else ct)[0]

    return forward_and_vjp(x, ct)


def _nhwc(rows):
    """A (1, H, W, 1) float64 array from nested lists."""
    return jnp.asarray(rows, jnp.float64)[None, :, :, None]


# ------------------------------------------------------------------- max-pool tie convention

TIES = {
    # every window constant: the gradient goes to each window's top-left cell
    "constant": (np.ones((4, 4)), dict(window=2)),
    # one window with two equal maxima (offsets 1 and 2): offset 1 wins
    "two-maxima": ([[1.0, 3.0], [3.0, 2.0]], dict(window=2)),
    # overlapping 3x3 windows sharing maxima, with ties inside windows
    "overlap-shared": (
        [[0.0, 1.0, 5.0, 5.0], [2.0, 5.0, 5.0, 1.0], [5.0, 0.0, 3.0, 5.0], [1.0, 5.0, 2.0, 0.0]],
        dict(window=3, stride=1),
    ),
    # constant input under SAME padding: padded cells are -inf and never take the gradient
    "constant-same": (np.full((5, 5), 2.0), dict(window=3, stride=2, padding="SAME")),
    # constant input, overlapping windows with explicit asymmetric padding
    "constant-asym": (np.zeros((4, 5)), dict(window=(2, 3), stride=1, padding=((1, 0), (0, 2)))),
}


@pytest.mark.parametrize("name", list(TIES))
def test_max_pool_ties_match_reference_autodiff_exactly(name):
    rows, kwargs = TIES[name]
    x = _nhwc(rows)
    ct = jnp.ones(reference.max_pool2d(x, **kwargs).shape)
    y, grad = _vjp(lambda x: ops.max_pool2d(x, **kwargs), x, ct)
    y_ref, grad_ref = _vjp(lambda x: reference.max_pool2d(x, **kwargs), x, ct)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(grad, grad_ref)
    assert float(jnp.sum(grad)) == y.size  # every window routed its cotangent exactly once


def test_max_pool_tie_goes_to_the_first_maximum_in_row_major_order():
    x = _nhwc([[1.0, 3.0, 4.0, 4.0], [3.0, 2.0, 4.0, 4.0]])
    _, grad = _vjp(lambda x: ops.max_pool2d(x, 2), x, _nhwc([[10.0, 20.0]]))
    assert grad[0, :, :, 0].tolist() == [[0.0, 10.0, 20.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_overlapping_windows_accumulate_on_a_shared_maximum():
    x = _nhwc([[0.0, 1.0, 0.0], [1.0, 9.0, 1.0], [0.0, 1.0, 0.0]])
    ct = _nhwc([[1.0, 2.0], [3.0, 4.0]])
    _, grad = _vjp(lambda x: ops.max_pool2d(x, 2, stride=1), x, ct)
    assert grad[0, :, :, 0].tolist() == [[0.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 0.0]]


# ------------------------------------------------------------------------------- residuals


def test_max_pool_residual_is_an_int8_argmax_of_output_shape():
    x = jnp.ones((2, 6, 6, 3))
    y, vjp = jax.vjp(lambda x: ops.max_pool2d(x, 3, stride=1, padding=1), x)
    leaves = jax.tree.leaves(vjp)
    assert [(leaf.dtype, leaf.shape) for leaf in leaves] == [(jnp.dtype(jnp.int8), y.shape)]


def test_max_pool_index_dtype_widens_for_large_windows():
    x = jnp.ones((1, 12, 12, 1))
    for window, dtype in (((11, 11), jnp.int8), (12, jnp.int16)):
        geo = window_geometry("max_pool2d", x.shape[1:3], window, stride=window)
        y, res = jax.eval_shape(functools.partial(pool._max_pool2d_fwd, geo=geo), x)
        assert (res.argmax.dtype, res.argmax.shape) == (jnp.dtype(dtype), y.shape)


@pytest.mark.parametrize("fn", [lambda x: ops.avg_pool2d(x, 2), ops.global_avg_pool2d])
def test_average_pools_keep_no_residuals(fn):
    _, vjp = jax.vjp(fn, jnp.ones((2, 4, 4, 3)))
    assert jax.tree.leaves(vjp) == []


# ---------------------------------------------------------------- count_include_pad=False


def test_count_include_pad_false_by_hand():
    """3x3 input 1..9, window 2, stride 2, padding 1: windows hold 1, 2, 2 and 4 real cells."""
    x = _nhwc(np.arange(1.0, 10.0).reshape(3, 3))
    for module in (ops, reference):
        y, grad = _vjp(
            lambda x, m=module: m.avg_pool2d(x, 2, stride=2, padding=1, count_include_pad=False),
            x,
            _nhwc(np.ones((2, 2))),
        )
        assert y[0, :, :, 0].tolist() == [[1.0, 2.5], [5.5, 7.0]]
        assert grad[0, :, :, 0].tolist() == [[1.0, 0.5, 0.5], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]
        y_incl = module.avg_pool2d(x, 2, stride=2, padding=1)
        assert y_incl[0, :, :, 0].tolist() == [[0.25, 1.25], [2.75, 7.0]]


def _torch_avg_pool2d(x, window, stride, pads, count_include_pad):
    """PyTorch's ``avg_pool2d`` loop (ceil_mode=False), transcribed with per-side padding."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = window, stride, pads
    ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    out = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            h0, w0 = i * sh - pt, j * sw - pl
            h1, w1 = min(h0 + kh, h + pb), min(w0 + kw, w + pr)
            pool_size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            divisor = pool_size if count_include_pad else (h1 - h0) * (w1 - w0)
            out[:, i, j, :] = x[:, h0:h1, w0:w1, :].sum(axis=(1, 2)) / divisor
    return out


# ----------------------------------------------------------------------- random configurations


@st.composite
def _pool_configs(draw):
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    window = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple((draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for k in window)
    form = draw(st.sampled_from(["explicit", "VALID", "SAME"]))
    if form != "explicit":
        pads = padding_2d(form, "test", in_hw=(h, w), window_hw=window, stride=stride)
    # grow the input until the window fits the padded input
    h, w = max(h, window[0] - sum(pads[0])), max(w, window[1] - sum(pads[1]))
    padding = pads if form == "explicit" else form
    shape = (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 2)))
    return shape, dict(window=window, stride=stride, padding=padding), pads


# 10 random configs here; benchmarks/torch_parity/pool_parity.py runs 120 against PyTorch
@settings(deadline=None, max_examples=10)
@given(config=_pool_configs(), seed=st.integers(0, 2**31 - 1), include=st.booleans())
def test_random_configs_match_reference_and_pytorch_semantics(config, seed, include):
    shape, kwargs, pads = config
    avg = dict(kwargs, count_include_pad=include)
    rng = np.random.default_rng(seed)
    # small integers: max-pool windows are full of ties, so the convention is exercised too
    x_max = jnp.asarray(rng.integers(0, 3, shape), jnp.float64)
    x_avg = jnp.asarray(rng.standard_normal(shape))
    ct_shape = jax.eval_shape(lambda x: ops.avg_pool2d(x, **avg), x_avg).shape
    ct_avg = jnp.asarray(rng.standard_normal(ct_shape))

    @jax.jit  # one program per example: both ops, hand and reference, forward and VJP
    def both(x_max, x_avg, ct_avg):
        def forward_and_vjp(m):
            y_max, vjp_max = jax.vjp(lambda x: m.max_pool2d(x, **kwargs), x_max)
            y_avg, vjp_avg = jax.vjp(lambda x: m.avg_pool2d(x, **avg), x_avg)
            return y_max, vjp_max(jnp.ones_like(y_max))[0], y_avg, vjp_avg(ct_avg)[0]

        return forward_and_vjp(ops), forward_and_vjp(reference)

    (max_y, max_grad, y, grad), (max_y_ref, max_grad_ref, y_ref, grad_ref) = both(
        x_max, x_avg, ct_avg
    )
    np.testing.assert_array_equal(max_y, max_y_ref)
    np.testing.assert_array_equal(max_grad, max_grad_ref)
    torch_y = _torch_avg_pool2d(
        np.asarray(x_avg), kwargs["window"], kwargs["stride"], pads, include
    )
    np.testing.assert_allclose(y, torch_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------- dtypes


def test_bfloat16_average_accumulates_in_float32():
    """256 + 1 rounds back to 256 in bfloat16: a bfloat16 sum of [256, 1 x 15] would give 16."""
    x = jnp.asarray(np.r_[256.0, np.ones(15)].reshape(1, 4, 4, 1), jnp.bfloat16)
    want = float(jnp.asarray(271.0 / 16, jnp.bfloat16))
    for y in (ops.avg_pool2d(x, 4), ops.global_avg_pool2d(x)):
        assert y.dtype == jnp.bfloat16
        assert float(y.reshape(())) == want != 16.0


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_output_and_gradient_keep_the_input_dtype(op, dtype):
    x = jnp.asarray(np.arange(16.0).reshape(1, 4, 4, 1), dtype)
    y, grad = _vjp(lambda x: getattr(ops, op)(x, 2), x, jnp.ones((1, 2, 2, 1), dtype))
    assert y.dtype == grad.dtype == dtype


# ------------------------------------------------------------------------------ validation

X = jnp.zeros((1, 4, 4, 2))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: ops.max_pool2d(jnp.zeros((4, 4, 2)), 2),
            ValueError,
            r"max_pool2d: `x` must have rank 4 \(N, H, W, C\), got shape \(4, 4, 2\)",
        ),
        (lambda: ops.avg_pool2d(X, 0), ValueError, r"avg_pool2d: `window` must be >= 1"),
        (
            lambda: ops.max_pool2d(X, 2, stride=(1, -1)),
            ValueError,
            r"max_pool2d: `stride` must be >= 1",
        ),
        (lambda: ops.max_pool2d(X, 2.0), TypeError, r"max_pool2d: `window` must be an int"),
        (
            lambda: ops.avg_pool2d(X, 2, padding="FULL"),
            ValueError,
            r"avg_pool2d: unknown `padding` 'FULL'",
        ),
        (
            lambda: ops.max_pool2d(X, 2, padding=-1),
            ValueError,
            r"max_pool2d: `padding` must be non-negative",
        ),
        (
            lambda: ops.max_pool2d(X, (5, 2)),
            ValueError,
            r"max_pool2d: window \(5, 2\) is larger than the padded input \(H: 4",
        ),
        (
            lambda: ops.max_pool2d(X, 2, padding=((0, 0), (2, 0))),
            ValueError,
            r"max_pool2d: `padding` must be smaller than `window`.*\(2, 0\) for window 2 along W",
        ),
        (
            lambda: ops.max_pool2d(jnp.zeros((1, 4, 4, 2), jnp.int32), 2),
            TypeError,
            r"max_pool2d: `x` must be a floating-point array, got dtype int32",
        ),
        (
            lambda: ops.avg_pool2d(X, 2, count_include_pad=1),
            TypeError,
            r"avg_pool2d: `count_include_pad` must be a bool, got 1",
        ),
        (
            lambda: ops.global_avg_pool2d(jnp.zeros((2, 3))),
            ValueError,
            r"global_avg_pool2d: `x` must have rank 4 \(N, H, W, C\), got shape \(2, 3\)",
        ),
        (
            lambda: ops.global_avg_pool2d(jnp.zeros((1, 2, 2, 1), jnp.int8)),
            TypeError,
            r"global_avg_pool2d: `x` must be a floating-point array, got dtype int8",
        ),
        (  # issue 12: a silent NaN before
            lambda: ops.global_avg_pool2d(jnp.zeros((2, 0, 0, 3))),
            ValueError,
            r"global_avg_pool2d: `x` must have H, W >= 1 .*got shape \(2, 0, 0, 3\)",
        ),
        (
            lambda: ops.max_pool2d(X, 2, ceil_mode=1),
            TypeError,
            r"max_pool2d: `ceil_mode` must be a bool, got 1",
        ),
        (
            lambda: ops.max_pool2d(X, 2, dilation=0),
            ValueError,
            r"max_pool2d: `dilation` must be >= 1",
        ),
        (
            lambda: ops.avg_pool2d(X, 2, divisor_override=0),
            ValueError,
            r"avg_pool2d: `divisor_override` must be >= 1, got 0",
        ),
        (
            lambda: ops.avg_pool2d(X, 2, divisor_override=2.0),
            TypeError,
            r"avg_pool2d: `divisor_override` must be None or an int, got 2.0",
        ),
    ],
)
def test_validation_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_validation_works_under_jit():
    with pytest.raises(ValueError, match=r"max_pool2d: window \(5, 5\) is larger"):
        jax.jit(lambda x: ops.max_pool2d(x, 5))(X)


# ------------------------------------------- padding never selected, NaN (values from PyTorch)

# Each: input, kwargs, gradient of sum(y). The gradients are F.max_pool2d's (PyTorch 2.13.0,
# float64, NCHW), checked by benchmarks/torch_parity/pool_parity.py; before the fix the op
# routed the all--inf windows' cotangents to padded cells and dropped them.
EDGES = {
    "all-neg-inf-k3-s2-p1": (
        np.full((3, 3), -np.inf),
        dict(window=3, stride=2, padding=1),
        [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
    ),
    "all-neg-inf-k4-s3-p2-chain": (  # 16 cells: the elementwise-chain lowering
        np.full((5, 5), -np.inf),
        dict(window=4, stride=3, padding=2),
        [[1.0, 1.0, 0, 0, 0], [1.0, 1.0, 0, 0, 0], [0] * 5, [0] * 5, [0] * 5],
    ),
    "one-nan-k3-s1": (
        np.where(np.arange(16).reshape(4, 4) == 6, np.nan, np.arange(16.0).reshape(4, 4)),
        dict(window=3, stride=1),
        [[0, 0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ),
}


@pytest.mark.parametrize("name", list(EDGES))
@pytest.mark.parametrize("module", [ops, reference], ids=["ops", "reference"])
def test_max_pool_edges_route_like_pytorch(name, module):
    rows, kwargs, want = EDGES[name]
    x = _nhwc(rows)
    y, grad = _vjp(lambda x: module.max_pool2d(x, **kwargs), x, None)
    np.testing.assert_array_equal(grad[0, :, :, 0], np.asarray(want, np.float64))
    assert bool(jnp.all(jnp.isnan(y))) == ("nan" in name)


def test_two_nans_send_the_gradient_to_the_first_nan():
    """DESIGN's rule (PyTorch's loop would pick the last NaN instead)."""
    x = np.arange(16.0).reshape(4, 4)
    x[1, 2] = x[2, 1] = np.nan
    for module in (ops, reference):
        _, grad = _vjp(lambda v, m=module: m.max_pool2d(v, 3, stride=1), _nhwc(x), None)
        assert grad[0, :, :, 0].tolist()[1] == [0.0, 0.0, 4.0, 0.0]


def test_stacked_reduction_jvp_matches_finite_differences():
    """The variadic reduce's own custom_jvp (the <= 8-cell lowering), padded keys included."""
    from cnnjax.ops._pool_argmax import stacked_first_max

    r = np.random.default_rng(3)
    stacked = jnp.asarray(r.permutation(2 * 3 * 5).reshape(2, 3, 5) / 3.0)
    keys = jnp.asarray(np.array([0, 6, 1, 2, 8], np.int8)[None, None].repeat(2, 0).repeat(3, 1))
    dot = jnp.asarray(r.normal(size=stacked.shape))
    (y, key), (dot_y, _) = jax.jvp(lambda s: stacked_first_max(s, keys), (stacked,), (dot,))
    eps = 1e-6
    fd = (
        stacked_first_max(stacked + eps * dot, keys)[0]
        - stacked_first_max(stacked - eps * dot, keys)[0]
    ) / (2 * eps)
    np.testing.assert_allclose(dot_y, fd, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(y, jnp.max(stacked, axis=-1))
    # a tie between an input cell (key 2) and a padded one (key 6) goes to the input cell
    tie = jnp.full((1, 5), -jnp.inf)
    assert int(stacked_first_max(tie, keys[:1, 0])[1][0]) == 0


# ------------------------------------------------------------ round 2: dilation, ceil_mode


def test_ceil_mode_keeps_the_hanging_window_and_its_divisor_counts_input_plus_padding():
    """H=6 of ones, window 3, stride 2, padding 1, ceil_mode: PyTorch's rule, by hand.

    Windows start at padded rows 0, 2, 4, 6; the last reads input row 5, the bottom pad row
    and one overhang row, which its divisor does not count.
    """
    x = jnp.ones((1, 6, 1, 1))
    kwargs = dict(window=(3, 1), stride=(2, 1), padding=((1, 1), (0, 0)), ceil_mode=True)
    for module in (ops, reference):
        incl = module.avg_pool2d(x, **kwargs)[0, :, 0, 0].tolist()
        assert incl == pytest.approx([2 / 3, 1.0, 1.0, 0.5])
        excl = module.avg_pool2d(x, count_include_pad=False, **kwargs)[0, :, 0, 0].tolist()
        assert excl == pytest.approx([1.0, 1.0, 1.0, 1.0])
        over = module.avg_pool2d(x, divisor_override=3, **kwargs)[0, :, 0, 0].tolist()
        assert over == pytest.approx([2 / 3, 1.0, 1.0, 1 / 3])
        assert module.max_pool2d(x, **{**kwargs, "ceil_mode": False}).shape == (1, 3, 1, 1)
        # H=3, window 2, stride 2, padding 1: a third window would start in the bottom pad
        three = jnp.ones((1, 3, 3, 1))
        assert module.max_pool2d(three, 2, stride=2, padding=1, ceil_mode=True).shape == (
            1,
            2,
            2,
            1,
        )


def test_dilated_max_pool_reads_every_dth_cell():
    x = _nhwc(np.arange(25.0).reshape(5, 5))
    y = ops.max_pool2d(x, 2, stride=1, dilation=3)
    assert y[0, :, :, 0].tolist() == [[18.0, 19.0], [23.0, 24.0]]
