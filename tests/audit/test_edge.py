"""Edge inputs (check 7): they sit exactly on kinks, ties and extremes, and the ops hold there."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax import ops, reference
from cnnjax.audit import check_vjp
from cnnjax.audit.cases import ALL_CASES, CASES_BY_NAME
from cnnjax.audit.edge import (
    EDGE_BUILDERS,
    EdgeInput,
    as_edge_inputs,
    edge_inputs,
    same_nonfinite,
)


def test_every_builder_is_for_a_real_op_with_cases():
    assert set(EDGE_BUILDERS) <= set(ops.OPS)
    assert set(EDGE_BUILDERS) <= {c.op for c in ALL_CASES}


def test_relu_edges_sit_exactly_on_the_kink_and_keep_the_shape():
    case = CASES_BY_NAME["relu-nhwc-2x5x3x4"]
    edge, nan = edge_inputs(case)
    x = edge.args[0]
    assert x.shape == case.args()[0].shape
    assert np.count_nonzero(x == 0.0) == x.size // 2
    assert np.count_nonzero(np.isnan(nan.args[0])) == x.size // 4 and not nan.finite_output


def test_builders_make_what_their_labels_say():
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    const = dict(EDGE_BUILDERS["batch_norm"](x))["constant channel (zero variance)"]
    assert np.ptp(const[..., 0]) == 0.0 and np.ptp(const[..., 1]) > 0
    tied = dict(EDGE_BUILDERS["max_pool2d"](x))["all windows tied (zeros)"]
    assert not tied.any()
    extremes = next(v for k, v in EDGE_BUILDERS["sigmoid"](x))
    assert set(np.unique(np.abs(extremes))) == {0.0, 1e4}


def test_bare_tuples_get_labels_and_other_items_are_rejected():
    (edge,) = as_edge_inputs([(np.zeros(2),)])
    assert edge == EdgeInput("edge0", edge.args)
    try:
        as_edge_inputs([np.zeros(2)])
    except TypeError as e:
        assert "edge_inputs[0]" in str(e)
    else:
        raise AssertionError("an array is not an argument tuple")


def test_relu_holds_its_convention_at_the_kink():
    case = CASES_BY_NAME["relu-vector-7"]
    result = check_vjp(
        case.bind(ops),
        case.bind(reference),
        *case.args(),
        dtypes=("float32",),
        second_order=False,
        edge_inputs=edge_inputs(case),
    )
    edge_rows = [c for c in result.checks if c.check.startswith("edge_")]
    assert {(c.check, c.dtype) for c in edge_rows} == {
        ("edge_finite", "float64"),
        ("edge_finite", "float32"),
        ("edge_convention", "float64"),
    }
    assert result.passed, str(result)


def test_pooling_builders_cover_ties_minus_inf_and_nan_windows():
    x = np.random.default_rng(1).standard_normal((2, 5, 4, 3))
    for op in ("max_pool2d", "adaptive_max_pool2d", "global_max_pool2d"):
        made = dict(EDGE_BUILDERS[op](x))
        assert np.all(made["all -inf (first real cell, never padding)"] == -np.inf)
        half = made["first half -inf"].reshape(-1)
        assert np.all(half[: x.size // 2] == -np.inf) and np.isfinite(half[x.size // 2 :]).all()
        several = made["several NaN per window (first NaN)"]
        assert 0 < np.isnan(made["sparse NaN (first NaN)"]).sum() < np.isnan(several).sum()
        assert "all windows tied (zeros)" in made and "partial ties" in made


def test_kink_builders_put_inputs_exactly_on_each_kink():
    x = np.random.default_rng(2).standard_normal((4, 9))
    for op, kinks in {"relu6": (0.0, 6.0), "hardswish": (-3.0, 3.0), "prelu": (0.0,)}.items():
        label, at = EDGE_BUILDERS[op](x)[0]
        assert label.startswith("exact kinks")
        assert all(np.count_nonzero(at == k) >= x.size // (len(kinks) + 1) for k in kinks), op
    assert any(np.isnan(v).any() for _, v in EDGE_BUILDERS["relu"](x))


def test_inputs_holding_nan_or_inf_may_have_a_non_finite_output():
    by_label = {e.label: e for e in edge_inputs(CASES_BY_NAME["global_max_pool2d-n2c3-4x5"])}
    assert not by_label["sparse NaN (first NaN)"].finite_output
    assert not by_label["all -inf (first real cell, never padding)"].finite_output
    assert by_label["partial ties"].finite_output
    (kept,) = as_edge_inputs([EdgeInput("nan", (np.zeros(2),), finite_output=False)])
    assert kept.finite_output is False


def test_same_nonfinite_blanks_shared_nan_and_inf_only():
    got = np.array([np.nan, -np.inf, np.inf, 1.0, np.nan])
    want = np.array([np.nan, -np.inf, -np.inf, 1.0, 2.0])
    (g,), (w,) = same_nonfinite(got, want)
    assert g[:2].tolist() == w[:2].tolist() == [0.0, 0.0]
    assert g[2] == np.inf and w[2] == -np.inf and np.isnan(g[4]) and w[4] == 2.0


def _wrong_at_six(x):
    """relu6 whose derivative at x = 6 is 1 instead of the convention's 0."""
    return jnp.clip(x, 0.0, 6.0)


_wrong_at_six = jax.custom_vjp(_wrong_at_six)
_wrong_at_six.defvjp(
    lambda x: (jnp.clip(x, 0.0, 6.0), x),
    lambda x, ct: (jnp.where((x <= 0) | (x > 6), jnp.zeros((), ct.dtype), ct),),
)


def _last_nan_max(x):
    """global max pooling that sends a NaN window's cotangent to its LAST NaN (PyTorch's)."""
    flat = x.reshape(x.shape[0], -1, x.shape[3])
    k = flat.shape[1] - 1 - jnp.argmax(flat[:, ::-1], axis=1)
    return jnp.take_along_axis(flat, k[:, None], axis=1)[:, 0], (k, x.shape)


def _last_nan_bwd(res, ct):
    k, shape = res
    n, c = ct.shape
    ct_x = jnp.zeros((n, shape[1] * shape[2], c), ct.dtype)
    ct_x = ct_x.at[jnp.arange(n)[:, None], k, jnp.arange(c)[None, :]].set(ct)
    return (ct_x.reshape(shape),)


_last_nan = jax.custom_vjp(lambda x: _last_nan_max(x)[0])
_last_nan.defvjp(_last_nan_max, _last_nan_bwd)


def _edge_failures(fn, case_name):
    case = CASES_BY_NAME[case_name]
    result = check_vjp(
        fn,
        case.bind(reference),
        *case.args(),
        dtypes=(),
        second_order=False,
        transforms=False,
        edge_inputs=edge_inputs(case),
    )
    return {c.note.split(":")[0] for c in result.failures if c.check == "edge_convention"}


def test_a_wrong_rule_at_a_kink_or_a_nan_window_fails_edge_convention():
    assert _edge_failures(_wrong_at_six, "relu6-nhwc-2x4x3x5") == {"exact kinks (x = 0, 6)"}
    nan_labels = {"sparse NaN (first NaN)", "several NaN per window (first NaN)"}
    failed = _edge_failures(_last_nan, "global_max_pool2d-n2c3-4x5")
    assert nan_labels <= failed, failed
