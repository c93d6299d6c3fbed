"""``cnnjax bench``: hand VJPs against JAX autodiff, per op and per training step.

Prints the tables on stdout (progress on stderr) and writes the JSON with ``--json PATH``.
The CLI has already set the fast-convolution flag where it is known to be safe
(``CNNJAX_FAST_CONV=0`` opts out); ``--compare-flag`` re-runs the model steps without it. Likewise
the ``cnnjax`` executable runs with host huge pages (``CNNJAX_HUGE_PAGES=0`` opts out), and
``--compare-huge-pages`` re-runs the model steps without them.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a ~2-minute subset: fewer op cases at batch 32, fewer repeats",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--batch", type=int, default=128, help="model batch size (128)")
    parser.add_argument(
        "--models",
        help="comma-separated zoo models (default: every one in cnnjax.bench.models.MODEL_NAMES)",
    )
    parser.add_argument("--repeats", type=int, help="timed runs per measurement")
    parser.add_argument("--skip-ops", action="store_true", help="skip the per-op benchmarks")
    parser.add_argument("--skip-models", action="store_true", help="skip the train steps")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparator")
    parser.add_argument(
        "--compare-flag",
        action="store_true",
        help="also time the model steps without the fast-convolution flag",
    )
    parser.add_argument(
        "--compare-huge-pages",
        action="store_true",
        help="also time the model steps without host huge pages",
    )


def run(args: argparse.Namespace) -> int:
    from cnnjax.bench import Settings, run_benchmark
    from cnnjax.bench.report import format_report, write_json

    models = () if args.skip_models else (args.models.split(",") if args.models else None)
    settings = Settings(
        quick=args.quick,
        batch=args.batch,
        models=models,
        ops=not args.skip_ops,
        conv_parts=not args.skip_ops,
        torch=not args.no_torch,
        compare_flag=args.compare_flag,
        compare_huge_pages=args.compare_huge_pages,
        repeats=args.repeats,
    )
    doc = run_benchmark(settings)
    print(format_report(doc))
    if args.json:
        write_json(doc, args.json)
    return 0
