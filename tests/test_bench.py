"""Smoke tests of the benchmark machinery on tiny sizes: it runs and produces the JSON schema.

No timed assertions: timings on a shared CI machine mean nothing.
"""

import json

import jax
import jax.numpy as jnp
import pytest

from cnnjax.bench import Settings, run_benchmark
from cnnjax.bench import ops as op_bench
from cnnjax.bench.models import forward_flops, run_model
from cnnjax.bench.report import SCHEMA, format_report, write_json
from cnnjax.bench.timing import compiled_stats, time_call
from cnnjax.nn import zoo

MODEL_KEYS = {"name", "batch", "gflop_per_step", "ratio", "temp_ratio"} | {
    f"{g}_{k}"
    for g in ("hand", "autodiff")
    for k in ("step_ms", "images_per_s", "gflops", "temp_bytes", "compile_s")
}


def test_time_call_and_compiled_stats():
    f = jax.jit(lambda x: x * 2.0)
    t = time_call(f, jnp.ones(4), warmup=1, repeats=3)
    assert t.repeats >= 3 and 0 <= t.min_s <= t.median_s <= t.max_s
    stats = compiled_stats(f, jnp.ones(4))
    assert stats.compile_s >= 0 and stats.compiled(jnp.ones(4)).shape == (4,)


def test_every_op_case_runs_at_batch_2():
    for case in op_bench.op_cases(2):
        row = op_bench.run_op_case(case, repeats=1, min_time_s=0.0)
        assert row["hand_ms"] > 0 and row["autodiff_ms"] > 0 and row["ratio"] > 0
    conv = next(c for c in op_bench.op_cases(2) if c.conv is not None)
    parts = op_bench.run_conv_parts(conv, repeats=1, min_time_s=0.0)
    assert {"forward_gflops", "grad_input_gflops", "grad_weight_gflops"} <= parts.keys()


def test_forward_flops_lenet5_by_hand():
    model = zoo.get_model("lenet5")
    params, state, _ = model.init(jax.random.key(0), (28, 28, 1), dtype=jnp.float32)
    flops = forward_flops(model, params, state, jnp.zeros((1, 28, 28, 1), jnp.float32))
    convs = 2 * (28 * 28 * 6 * 25 * 1 + 10 * 10 * 16 * 25 * 6)
    dense = 2 * (400 * 120 + 120 * 84 + 84 * 10)
    assert flops == convs + dense


# vgg_small and resnet20 differ only in size; their steps compile for seconds each.
@pytest.mark.parametrize("name", ["digits_cnn", "lenet5"])
def test_run_model_tiny_batch(name):
    row = run_model(name, batch=2, repeats=1)
    assert MODEL_KEYS <= row.keys()
    assert row["gflop_per_step"] > 0


def test_run_benchmark_schema_and_report(tmp_path):
    settings = Settings(
        quick=True, batch=2, models=("lenet5",), torch=False, repeats=1, op_batch=2, ceiling_size=64
    )
    doc = run_benchmark(settings, log=None)
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
    assert doc["ceiling"]["gflops_best"] > 0
    assert doc["models"][0]["hand_ceiling_fraction"] > 0
    text = format_report(doc)
    assert "lenet5" in text and "per op" in text
    path = tmp_path / "out" / "bench.json"
    write_json(doc, path)
    assert json.loads(path.read_text())["models"][0]["name"] == "lenet5"


def test_cli_bench_writes_json(tmp_path, capsys):
    from cnnjax.cli import main

    path = tmp_path / "b.json"
    assert (
        main(
            [
                "bench",
                "--skip-ops",
                "--no-torch",
                "--models",
                "lenet5",
                "--batch",
                "2",
                "--repeats",
                "1",
                "--json",
                str(path),
            ]
        )
        == 0
    )
    assert "lenet5" in capsys.readouterr().out
    assert json.loads(path.read_text())["ops"] is None
