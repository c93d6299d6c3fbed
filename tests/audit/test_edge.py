"""Edge inputs (check 7): they sit exactly on kinks, ties and extremes, and the ops hold there."""

from __future__ import annotations

import numpy as np

from cnnjax import ops, reference
from cnnjax.audit import check_vjp
from cnnjax.audit.cases import ALL_CASES, CASES_BY_NAME
from cnnjax.audit.edge import EDGE_BUILDERS, EdgeInput, as_edge_inputs, edge_inputs


def test_every_builder_is_for_a_real_op_with_cases():
    assert set(EDGE_BUILDERS) <= set(ops.OPS)
    assert set(EDGE_BUILDERS) <= {c.op for c in ALL_CASES}


def test_relu_edges_sit_exactly_on_the_kink_and_keep_the_shape():
    case = CASES_BY_NAME["relu-nhwc-2x5x3x4"]
    (edge,) = edge_inputs(case)
    x = edge.args[0]
    assert x.shape == case.args()[0].shape
    assert np.count_nonzero(x == 0.0) == x.size // 2


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
