"""``cnnjax audit``: the table, the last line, the exit status and the reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cnnjax.cli import main

LAST_LINE = re.compile(r"^audit: (\d+)/(\d+) checks pass$")


def _last_line(text: str) -> tuple[int, int]:
    match = LAST_LINE.match(text.strip().splitlines()[-1])
    assert match, text[-500:]
    return int(match.group(1)), int(match.group(2))


def test_quick_relu_passes_and_writes_reports(tmp_path, capsys):
    report, table = tmp_path / "audit.json", tmp_path / "audit.md"
    argv = [
        "audit",
        "--quick",
        "--op",
        "relu",
        "--no-progress",
        "--dtype",
        "float32",
        "--json",
        str(report),
        "--markdown",
        str(table),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    passed, total = _last_line(out)
    assert passed == total > 0
    assert re.search(r"^relu\s+relu-nhwc-2x5x3x4\s+fd_jacobian\s", out, re.M)
    assert "bfloat16" not in out  # --dtype float32 leaves bfloat16 out
    data = json.loads(report.read_text())
    assert data["summary"] == {
        "passed": passed,
        "total": total,
        "all_passed": True,
        "dtype": "float32",
        "quick": True,
        "seed": 0,
    }
    checks = [c for case in data["cases"] for c in case["checks"]]
    assert len(checks) == total and {case["op"] for case in data["cases"]} == {"relu"}
    assert table.read_text().startswith("| op | case | check | arg | dtype |")


def test_unknown_op_is_an_error_naming_it(capsys):
    assert main(["audit", "--op", "relux", "--no-progress"]) == 2
    assert "relux" in capsys.readouterr().err


def test_command_line_exit_status_and_last_line():
    proc = subprocess.run(
        [sys.executable, "-m", "cnnjax", "audit", "--quick", "--op", "relu", "--dtype", "float64"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    passed, total = _last_line(proc.stdout)
    assert passed == total > 0
    assert not re.search(r"\[[#.]{30}\]", proc.stderr)  # no progress bar off a TTY


@pytest.mark.parametrize(
    "choice, expected",
    [("float64", ()), ("bfloat16", ("bfloat16",)), ("all", ("float32", "bfloat16"))],
)
def test_dtype_choice(choice, expected):
    from cnnjax.audit.grid import dtypes_for

    assert dtypes_for(choice) == expected


def test_model_audit_compares_hand_and_autodiff_parameter_gradients():
    from cnnjax.audit.model import audit_model

    result = audit_model("digits_cnn", quick=True).result
    assert result.passed, str(result)
    args = {c.argument for c in result.checks if c.check == "vjp"}
    assert args and all(a.startswith("params[") for a in args)
    assert {"forward", "vjp", "fd_directional", "jit", "vmap"} <= {c.check for c in result.checks}


def test_model_audit_of_an_autoencoder_is_its_mse_against_an_image_and_names_unknown_models():
    """``--model digits_autoencoder`` audits ``mean(mse_loss(out, target))``: the loss it
    builds equals that, computed here from the reference directly; unknown names list both
    kinds. (The full audit of the autoencoder runs in ``cnnjax audit --model``; its hand
    gradients against autodiff are tested in tests/nn/test_zoo.py.)"""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from cnnjax import reference
    from cnnjax.audit.model import audit_model, model_loss
    from cnnjax.nn import zoo

    model = zoo.AUTOENCODERS["digits_autoencoder"]()
    shape = zoo.AUTOENCODER_SHAPES["digits_autoencoder"]
    params, state, out_shape = model.init(jax.random.key(0), shape, dtype=jnp.float32)
    assert out_shape == shape
    x = jax.random.normal(jax.random.key(1), (2, *shape), jnp.float32)
    target = jax.random.normal(jax.random.key(2), (2, *shape), jnp.float32)
    key = jax.random.key(3)
    got = model_loss(model, reference, state, image_target=True)(params, x, target, key)
    out, _ = model.apply(params, state, x, train=True, key=key, ops=reference)
    np.testing.assert_allclose(got, jnp.mean((out - target) ** 2), rtol=1e-6)
    with pytest.raises(
        ValueError, match="digits_autoencoder.*digits_cnn|digits_cnn.*digits_autoencoder"
    ):
        audit_model("no_such_model")
