"""Smoke tests of the benchmark machinery on tiny sizes: it runs and produces the JSON schema.

No timed assertions: timings on a shared CI machine mean nothing. Each op case and each model
step compiles once in this file, and no test runs for long (xdist spreads them): one
``run_benchmark`` document (two op cases, one conv breakdown, lenet5) serves the tests that
read it, every other op case runs in a test of its own, and the CLI test runs the other model.
"""

import json

import jax
import jax.numpy as jnp
import pytest

from cnnjax.bench import Settings, run_benchmark, suite
from cnnjax.bench import ops as op_bench
from cnnjax.bench.models import forward_flops
from cnnjax.bench.report import SCHEMA, format_report, write_json
from cnnjax.bench.timing import compiled_stats, time_call
from cnnjax.nn import zoo
from tests._once import once

MODEL_KEYS = {"name", "batch", "gflop_per_step", "ratio", "temp_ratio"} | {
    f"{g}_{k}"
    for g in ("hand", "autodiff")
    for k in ("step_ms", "images_per_s", "gflops", "temp_bytes", "compile_s")
}
# The document's op cases: the quick subset's conv (its conv breakdown too) and pooling ones.
IN_DOC = ["conv2d-3x3-32x32-64to64", "max_pool2d-2x2-32x32x64"]
OTHERS = [c.name for c in op_bench.op_cases(2) if c.name not in IN_DOC]


@pytest.fixture(scope="module")
def quick_doc(tmp_path_factory):
    """``run_benchmark`` in quick mode at batch 2 on lenet5 and the ``IN_DOC`` op cases (once
    per session: an xdist worker that gets some of these tests reads the other's document)."""

    def bench(_folder):
        settings = Settings(
            quick=True,
            batch=2,
            models=("lenet5",),
            torch=False,
            repeats=1,
            op_batch=2,
            ceiling_size=64,
        )
        real = op_bench.op_cases
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(
                op_bench, "op_cases", lambda n, **kw: [c for c in real(n, **kw) if c.name in IN_DOC]
            )
            return run_benchmark(settings, log=None)

    return once(tmp_path_factory, "quick_doc", bench)


def _check_op_row(row):
    assert row["hand_ms"] > 0 and row["autodiff_ms"] > 0 and row["ratio"] > 0


def _check_model_row(row, name):
    assert MODEL_KEYS <= row.keys()
    assert row["name"] == name and row["batch"] == 2 and row["gflop_per_step"] > 0


def test_time_call_and_compiled_stats():
    f = jax.jit(lambda x: x * 2.0)
    t = time_call(f, jnp.ones(4), warmup=1, repeats=3)
    assert t.repeats >= 3 and 0 <= t.min_s <= t.median_s <= t.max_s
    stats = compiled_stats(f, jnp.ones(4))
    assert stats.compile_s >= 0 and stats.compiled(jnp.ones(4)).shape == (4,)


@pytest.mark.parametrize("name", OTHERS)
def test_op_case_runs_at_batch_2(name):
    case = next(c for c in op_bench.op_cases(2) if c.name == name)
    row = op_bench.run_op_case(case, repeats=1, min_time_s=0.0)
    assert row["name"] == name
    _check_op_row(row)


def test_document_op_cases_conv_parts_and_model_rows(quick_doc):
    assert [row["name"] for row in quick_doc["ops"]] == IN_DOC
    for row in quick_doc["ops"]:
        _check_op_row(row)
    (parts,) = quick_doc["conv_parts"]
    assert parts["name"] == IN_DOC[0]
    for part in ("forward", "grad_input", "grad_weight", "autodiff_grad_weight"):
        assert parts[f"{part}_gflops"] > 0, part
    (model,) = quick_doc["models"]
    _check_model_row(model, "lenet5")


def test_run_benchmark_schema_and_report(quick_doc, tmp_path):
    doc = quick_doc
    assert doc["schema"] == SCHEMA
    assert {
        "environment",
        "ceiling",
        "ops",
        "conv_parts",
        "models",
        "flag_comparison",
        "huge_pages_comparison",
        "wall_s",
    } <= doc.keys()
    assert doc["flag_comparison"] is None and doc["huge_pages_comparison"] is None
    assert doc["ceiling"]["size"] == 64 and doc["ceiling"]["gflops_best"] > 0
    assert doc["models"][0]["hand_ceiling_fraction"] > 0
    text = format_report(doc)
    assert "lenet5" in text and "per op" in text
    path = tmp_path / "out" / "bench.json"
    write_json(doc, path)
    assert json.loads(path.read_text())["models"][0]["name"] == "lenet5"


def test_forward_flops_lenet5_by_hand():
    model = zoo.get_model("lenet5")
    params, state, _ = model.init(jax.random.key(0), (28, 28, 1), dtype=jnp.float32)
    flops = forward_flops(model, params, state, jnp.zeros((1, 28, 28, 1), jnp.float32))
    convs = 2 * (28 * 28 * 6 * 25 * 1 + 10 * 10 * 16 * 25 * 6)
    dense = 2 * (400 * 120 + 120 * 84 + 84 * 10)
    assert flops == convs + dense


def test_cli_bench_writes_json(tmp_path, capsys, monkeypatch):
    """The CLI end to end on the model the quick document does not run (digits_cnn); the
    ceiling, measured at full size by ``cnnjax bench``, runs at 64 here."""
    from cnnjax.cli import main

    real = suite.matmul_ceiling
    monkeypatch.setattr(suite, "matmul_ceiling", lambda size, **kw: real(64, **kw))
    path = tmp_path / "b.json"
    argv = ["bench", "--skip-ops", "--no-torch", "--models", "digits_cnn", "--batch", "2"]
    assert main([*argv, "--repeats", "1", "--json", str(path)]) == 0
    assert "digits_cnn" in capsys.readouterr().out
    doc = json.loads(path.read_text())
    assert doc["ops"] is None and doc["conv_parts"] is None and doc["ceiling"]["size"] == 64
    (model,) = doc["models"]
    _check_model_row(model, "digits_cnn")
