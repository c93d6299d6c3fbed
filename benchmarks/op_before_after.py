"""Time a few ``cnnjax bench`` op rows repeatedly, hand and autodiff interleaved in one run.

On a shared machine only ratios measured in the same run are worth comparing, so each round
times every variant once (``cnnjax.bench.timing.time_call``: 5 calls and at least 0.2 s) and
the script prints each variant's median over the rounds, the median of its per-round ratios
to autodiff, and XLA's compiled temp memory. ``--before FILE@REV`` adds a third variant: the
op module ``FILE`` as it was at git revision ``REV``, loaded beside the current one (its
public functions replace the current ones), e.g.

    python benchmarks/op_before_after.py --rounds 3 --before cnnjax/ops/pad.py@main pad2d-reflect

Row names are the prefixes of ``cnnjax.bench.ops.op_cases`` names (batch 128).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import subprocess
import sys
import tempfile
import types

import jax

import cnnjax.ops as hand_ops
import cnnjax.reference as ref_ops
from cnnjax.bench.ops import _inputs, _loss_fn, op_cases
from cnnjax.bench.timing import compiled_stats, time_call


def _ops_at(spec: str) -> types.SimpleNamespace:
    """``cnnjax.ops`` with the public functions of ``FILE`` taken from git revision ``REV``."""
    path, rev = spec.rsplit("@", 1)
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    tmp = pathlib.Path(tempfile.mkdtemp()) / pathlib.Path(path).name
    tmp.write_text(source)
    name = f"cnnjax.ops._before_{tmp.stem}"
    module_spec = importlib.util.spec_from_file_location(name, tmp)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    ops = types.SimpleNamespace(**{k: getattr(hand_ops, k) for k in hand_ops.__all__})
    for k in module.__all__:
        setattr(ops, k, getattr(module, k))
    return ops


def _run(case, variants: dict, rounds: int) -> None:
    arrays, labels, ct = _inputs(case, jax.random.key(0))
    stats = {
        tag: compiled_stats(_loss_fn(case, ops, labels, len(arrays)), *arrays, ct)
        for tag, ops in variants.items()
    }
    times: dict[str, list[float]] = {tag: [] for tag in variants}
    for _ in range(rounds):
        for tag, st in stats.items():
            t = time_call(st.compiled, *arrays, ct, repeats=5, min_time_s=0.2)
            times[tag].append(t.median_s * 1e3)
    for tag, ts in times.items():
        ratio = statistics.median(a / b for a, b in zip(ts, times["autodiff"], strict=True))
        runs = ", ".join(f"{t:.1f}" for t in ts)
        print(
            f"{case.name:40s} {tag:9s} {statistics.median(ts):9.2f} ms  ratio {ratio:.2f}  "
            f"temp {stats[tag].temp_bytes / 2**20:7.1f} MiB  [{runs}]",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="op_cases name prefixes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="FILE@REV: an op module at a git revision")
    args = parser.parse_args(argv)
    variants = {"hand": hand_ops, "autodiff": ref_ops}
    if args.before:
        variants = {"before": _ops_at(args.before), **variants}
    for case in op_cases(128):
        if case.name.startswith(tuple(args.rows)):
            _run(case, variants, args.rounds)


if __name__ == "__main__":
    main(sys.argv[1:])
