"""The whole benchmark, as ``cnnjax bench`` runs it: ceiling, ops, conv parts, models, and the
process-level settings (the fast-convolution flag, host huge pages) each against a child
process without it.

:func:`run_benchmark` returns the JSON document (see :mod:`cnnjax.bench.report`); it prints
one progress line per item to ``log`` (stderr by default) so a long run shows where it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any, TextIO

from cnnjax.bench import ops as op_bench
from cnnjax.bench import torch_models
from cnnjax.bench.ceiling import matmul_ceiling
from cnnjax.bench.models import MODEL_NAMES, run_model
from cnnjax.bench.report import SCHEMA, environment
from cnnjax.nn.zoo import INPUT_SHAPES
from cnnjax.runtime import FAST_CONV_FLAG, HUGE_PAGES_ENV, HUGE_PAGES_TUNABLE, OPT_OUT_ENV

__all__ = ["Settings", "run_benchmark"]


class Settings:
    """What to run. ``quick``: a ~2-minute subset (fewer op cases at batch 32, fewer repeats,
    one conv breakdown); the model steps always run at ``batch``."""

    def __init__(
        self,
        *,
        quick: bool = False,
        batch: int = 128,
        models: Sequence[str] | None = None,
        ops: bool = True,
        conv_parts: bool = True,
        torch: bool = True,
        compare_flag: bool = False,
        compare_huge_pages: bool = False,
        repeats: int | None = None,
        op_batch: int | None = None,
        ceiling_size: int = 2048,
    ):
        self.quick = quick
        self.batch = batch
        self.models = tuple(MODEL_NAMES if models is None else models)
        self.ops = ops
        self.conv_parts = conv_parts
        self.torch = torch
        self.compare_flag = compare_flag
        self.compare_huge_pages = compare_huge_pages
        self.repeats = repeats if repeats is not None else (3 if quick else 10)
        self.op_batch = op_batch if op_batch is not None else (32 if quick else batch)
        self.ceiling_size = ceiling_size


def _say(log: TextIO | None, msg: str) -> None:
    if log is not None:
        print(msg, file=log, flush=True)


def _torch_available(want: bool) -> str | None:
    if not want or not torch_models.available():
        return None
    import torch

    return str(torch.__version__)


def run_benchmark(s: Settings, *, log: TextIO | None = sys.stderr) -> dict:
    """Run what ``s`` selects and return the benchmark document."""
    start = time.perf_counter()
    torch_version = _torch_available(s.torch)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "environment": environment(quick=s.quick, batch=s.batch, torch_version=torch_version),
    }
    _say(log, "ceiling: float32 matmul")
    doc["ceiling"] = matmul_ceiling(s.ceiling_size, repeats=max(s.repeats, 5))
    doc["ops"] = doc["conv_parts"] = None
    if s.ops or s.conv_parts:
        cases = op_bench.op_cases(s.op_batch, quick=s.quick)
        min_t = 0.05 if s.quick else 0.3
        if s.ops:
            doc["ops"] = []
            for case in cases:
                _say(log, f"op: {case.name}")
                doc["ops"].append(op_bench.run_op_case(case, repeats=s.repeats, min_time_s=min_t))
        if s.conv_parts:
            doc["conv_parts"] = []
            conv_cases = [c for c in cases if c.conv is not None][: 1 if s.quick else None]
            for case in conv_cases:
                _say(log, f"conv parts: {case.name}")
                row = op_bench.run_conv_parts(case, repeats=s.repeats, min_time_s=min_t)
                if torch_version:
                    from cnnjax.bench.torch_models import torch_conv_grad_weight_gflops

                    row["torch_grad_weight_gflops"] = torch_conv_grad_weight_gflops(
                        *case.shapes,
                        stride=case.conv.get("stride", 1),
                        padding=case.conv.get("padding", "VALID"),
                        repeats=s.repeats,
                    )
                doc["conv_parts"].append(row)
    doc["models"] = _run_models(s, doc["ceiling"], torch_version, log) if s.models else None
    doc["flag_comparison"] = _flag_comparison(s, doc["models"], log) if s.compare_flag else None
    doc["huge_pages_comparison"] = (
        _huge_pages_comparison(s, doc["models"], log) if s.compare_huge_pages else None
    )
    doc["wall_s"] = time.perf_counter() - start
    return doc


def _run_models(s: Settings, ceiling: dict, torch_version: str | None, log) -> list[dict]:
    rows = []
    for name in s.models:
        _say(log, f"model: {name} (hand, autodiff)")
        row = run_model(name, batch=s.batch, repeats=s.repeats)
        for g in ("hand", "autodiff"):
            row[f"{g}_ceiling_fraction"] = row[f"{g}_gflops"] / ceiling["gflops_best"]
        if torch_version and name in INPUT_SHAPES:  # a PyTorch twin of each classifier
            from cnnjax.bench.torch_models import run_torch_model

            _say(log, f"model: {name} (PyTorch eager)")
            t = run_torch_model(name, INPUT_SHAPES[name], batch=s.batch, repeats=s.repeats)
            row.update({f"torch_{k}": v for k, v in t.items()})
            row["torch_ratio"] = row["hand_images_per_s"] / t["images_per_s"]
        rows.append(row)
    return rows


def _flag_comparison(s: Settings, models: list[dict] | None, log) -> list[dict] | None:
    """Re-run the model steps in a child process without the fast-convolution flag (it can
    only be set before JAX starts) and pair its hand-step times with this run's."""
    if not models or FAST_CONV_FLAG not in os.environ.get("XLA_FLAGS", ""):
        _say(log, "flag comparison skipped: this run does not have the flag")
        return None
    env = dict(os.environ)
    env[OPT_OUT_ENV] = "0"
    env["XLA_FLAGS"] = env["XLA_FLAGS"].replace(FAST_CONV_FLAG, "").strip()
    return _child_comparison(s, models, env, "flag", log)


def _huge_pages_comparison(s: Settings, models: list[dict] | None, log) -> list[dict] | None:
    """Re-run the model steps in a child process without host huge pages (glibc reads its
    tunables only at start-up) and pair its hand-step times with this run's."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if not models or HUGE_PAGES_TUNABLE not in tunables:
        _say(log, "huge-pages comparison skipped: this run does not have them")
        return None
    env = dict(os.environ)
    env[HUGE_PAGES_ENV] = "0"
    rest = [t for t in tunables.split(":") if t and t != HUGE_PAGES_TUNABLE]
    env["GLIBC_TUNABLES"] = ":".join(rest)
    return _child_comparison(s, models, env, "huge pages", log)


def _child_comparison(s: Settings, models: list[dict], env: dict, what: str, log) -> list[dict]:
    """The hand-step times of this run against a ``cnnjax bench`` child run under ``env``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "child.json")
        cmd = [
            sys.executable,
            "-m",
            "cnnjax",
            "bench",
            "--skip-ops",
            "--no-torch",
            "--batch",
            str(s.batch),
            "--repeats",
            str(s.repeats),
            "--json",
            out,
            "--models",
            ",".join(s.models),
        ]
        _say(log, f"{what} comparison: child process without them")
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            other = {r["name"]: r for r in json.load(f)["models"]}
    return [
        {
            "name": r["name"],
            "with_ms": r["hand_step_ms"],
            "without_ms": other[r["name"]]["hand_step_ms"],
            "speedup": other[r["name"]]["hand_step_ms"] / r["hand_step_ms"],
        }
        for r in models
    ]
