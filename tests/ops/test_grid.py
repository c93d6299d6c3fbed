"""The case grid through the audit's own checker, plus the grid's structural rules.

Each ``QUICK_CASES`` entry runs ``cnnjax.audit.grid.audit_case`` with the quick settings
(``grid.QUICK``): the same ``check_vjp`` checks, tolerances and rows as ``cnnjax audit``, which
runs every case with ``grid.FULL``. A failure shows the rows the audit prints. The rule that
``cnnjax/ops`` uses no autodiff is checked on the syntax tree in ``tests/test_independence.py``.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import pytest

import cnnjax.ops
from cnnjax import ops, reference
from cnnjax.audit import grid
from cnnjax.audit.cases import ALL_CASES, CASES_BY_NAME, QUICK_CASES
from cnnjax.cli import main

IDS = [c.name for c in QUICK_CASES]


@pytest.mark.parametrize("case", QUICK_CASES, ids=IDS)
def test_case_passes_the_audit(case):
    result = grid.audit_case(case, quick=True)
    assert result.result.passed, grid.failure_report([result])


@pytest.mark.parametrize("case", QUICK_CASES, ids=IDS)
def test_op_is_a_custom_vjp(case):
    """The audit compares op and reference; this pins that the op is the hand VJP at all."""
    args = case.args()

    def restrict(module):
        f = case.bind(module)

        def g(*diff):
            full = list(args)
            for i, d in zip(case.argnums, diff, strict=True):
                full[i] = d
            return f(*full)

        return g

    diff = [jnp.asarray(args[i]) for i in case.argnums]
    jaxpr = str(jax.make_jaxpr(restrict(ops))(*diff))
    assert "custom_vjp_call" in jaxpr, f"{case.op}: no custom_vjp in its jaxpr"
    assert "custom_vjp_call" not in str(jax.make_jaxpr(restrict(reference))(*diff))


def test_every_op_with_a_defvjp_has_a_case():
    """Each ``NAME.defvjp(`` in cnnjax/ops needs a case for op ``NAME.lstrip('_')``."""
    ops_dir = pathlib.Path(ops.__file__).parent
    defined = {
        m.group(1).lstrip("_")
        for path in ops_dir.glob("*.py")
        for m in re.finditer(r"(\w+)\.defvjp\(", path.read_text())
    }
    covered = {c.op for c in ALL_CASES}
    assert defined, "found no defvjp in cnnjax/ops"
    assert not defined - covered, f"ops with a defvjp but no case: {sorted(defined - covered)}"
    assert set(ops.OPS) <= covered, f"public ops with no case: {sorted(set(ops.OPS) - covered)}"


# A planted bug: relu whose VJP is 1% too large. Both this module's grid test and
# `cnnjax audit` must fail on it, with the same rows.


@jax.custom_vjp
def _bad_relu(x):
    return jnp.maximum(x, jnp.zeros((), x.dtype))


_bad_relu.defvjp(
    lambda x: (jnp.maximum(x, jnp.zeros((), x.dtype)), x),
    lambda x, ct: (1.01 * ct * (x > 0).astype(ct.dtype),),
)


def _fail_rows(text: str) -> set[tuple[str, ...]]:
    """The table rows of ``text`` that end in FAIL, as tuples of cells."""
    return {tuple(line.split()) for line in text.splitlines() if re.search(r"\sFAIL$", line)}


def test_a_planted_bug_fails_the_grid_test_and_the_audit_with_the_same_rows(monkeypatch, capsys):
    monkeypatch.setattr(cnnjax.ops, "relu", _bad_relu)
    assert main(["audit", "--quick", "--op", "relu", "--no-progress", "--jobs", "1"]) == 1
    audit_rows = _fail_rows(capsys.readouterr().out)
    audited = {row[1] for row in audit_rows}
    assert audited, "the audit printed no FAIL row for the planted bug"
    test_rows = set()
    for name in sorted(audited):
        with pytest.raises(AssertionError) as info:
            test_case_passes_the_audit(CASES_BY_NAME[name])
        test_rows |= _fail_rows(str(info.value))
    assert test_rows == audit_rows
    assert any(row[2:5] == ("vjp", "x", "float64") for row in test_rows), test_rows
