"""``cnnjax audit``: every op's hand VJP against JAX autodiff over the case grid.

Prints one row per (case, check, dtype) with the worst error over the arguments (every row
with ``--verbose``), ends with ``audit: P/T checks pass`` (P/T counts every single check) and
exits 0 only when all pass. The work is ``cnnjax.audit.grid.audit_grid``; this module parses
and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

FAST_COMPILE = "--xla_backend_optimization_level=0"
"""The ``XLA_FLAGS`` entry under which ``cnnjax audit`` compiles, and so the test suite too
(``tests/conftest.py`` sets it, so the grid tests round exactly as the audit does). Small audit
programs spend most of their time in XLA's LLVM backend; its optimisation level does not
change the float64 results the audit compares, and level 0 halves the run time. An
``XLA_FLAGS`` that already sets ``xla_backend_optimization_level`` wins."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--op",
        nargs="+",
        action="extend",
        metavar="NAME",
        default=[],
        help="audit only these ops (default: every op in the grid)",
    )
    parser.add_argument(
        "--dtype",
        choices=["float64", "float32", "bfloat16", "all"],
        default="all",
        help="low-precision dtypes checked against float64; "
        "the float64 checks always run (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke audit: the first two quick cases of each op (the test suite runs them all)",
    )
    parser.add_argument(
        "--model",
        nargs="+",
        action="extend",
        metavar="NAME",
        default=[],
        help="audit these zoo models' parameter gradients instead of the grid",
    )
    parser.add_argument(
        "--json", type=pathlib.Path, metavar="PATH", help="write a machine-readable report"
    )
    parser.add_argument(
        "--markdown", type=pathlib.Path, metavar="PATH", help="write the table as Markdown"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every check (each argument separately)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--seed", type=int, default=0, help="seed of inputs and probes")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        metavar="N",
        help="worker processes for the grid (default: min(2, CPUs))",
    )


def run(args: argparse.Namespace) -> int:
    flags = os.environ.get("XLA_FLAGS")
    if "xla_backend_optimization_level" not in (flags or ""):
        # Read when the backend starts; restored after, so it never leaks past this call.
        os.environ["XLA_FLAGS"] = f"{flags or ''} {FAST_COMPILE}".strip()
    try:
        return _run(args)
    finally:
        if flags is None:
            os.environ.pop("XLA_FLAGS", None)
        else:
            os.environ["XLA_FLAGS"] = flags


def _check_outputs(args: argparse.Namespace) -> str | None:
    """Why ``--json``/``--markdown`` could not be written, checked before minutes of audit."""
    for flag, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path is None:
            continue
        folder = path.parent if str(path.parent) else pathlib.Path(".")
        if path.is_dir():
            return f"cnnjax audit: error: {flag} {path} is a folder, not a file"
        if not folder.is_dir():
            return f"cnnjax audit: error: {flag} {path}: folder {folder} does not exist"
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return f"cnnjax audit: error: {flag} {path} is not writable"
    return None


def _run(args: argparse.Namespace) -> int:
    problem = _check_outputs(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    # Imported here, not at the top: `cnnjax --help` starts no JAX.
    from cnnjax.audit import grid
    from cnnjax.audit.report import HEADER, format_markdown, format_table

    progress = grid.ProgressBar(enabled=False if args.no_progress else None)
    try:
        if args.model:
            results = _audit_models(args, progress)
        else:
            cases = grid.select_cases(args.op, quick=args.quick)
            dtypes = grid.dtypes_for(args.dtype)
            results = grid.audit_grid(
                cases,
                dtypes=dtypes,
                quick=args.quick,
                seed=args.seed,
                progress=progress,
                jobs=args.jobs,
            )
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    rows = grid.summary_rows(results, verbose=args.verbose)
    print(format_table(rows, HEADER))
    checks = grid.all_checks(results)
    passed = sum(c.passed for c in checks)
    if args.json:
        summary = {"dtype": args.dtype, "quick": args.quick, "seed": args.seed}
        args.json.write_text(
            json.dumps(grid.to_json(results, **summary), indent=1, default=_plain) + "\n"
        )
    if args.markdown:
        args.markdown.write_text(format_markdown(rows, HEADER))
    print(f"audit: {passed}/{len(checks)} checks pass")
    return 0 if checks and passed == len(checks) else 1


def _audit_models(args: argparse.Namespace, progress) -> list:
    from cnnjax.audit.model import audit_model

    results = []
    for k, name in enumerate(args.model):
        progress(k, len(args.model), f"model {name}")
        results.append(audit_model(name, seed=args.seed, quick=args.quick))
    progress(len(args.model), len(args.model), "done")
    return results


def _plain(value):
    """NumPy scalars in the report as plain Python numbers."""
    return value.item() if hasattr(value, "item") else str(value)
