"""The ``cnnjax`` command line: parses, then calls one library function per command.

Each subcommand lives in ``cnnjax/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status). The modules import their work inside ``run`` and
``cnnjax/__init__.py`` loads the ops on first use, so ``cnnjax --help`` and ``cnnjax train
--help`` import no JAX (``tests/test_runtime.py`` checks it).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cnnjax.runtime import configure_fast_cpu_convolutions, relaunch_with_huge_pages

COMMANDS = {
    "train": "train a CNN from an experiment config (TOML)",
    "eval": "evaluate a saved checkpoint on a config's test split",
    "audit": "audit the hand-written VJPs against JAX autodiff",
    "bench": "benchmark hand VJPs against JAX autodiff",
    "trace": "per-layer gradient report of one batch, hand VJPs against autodiff",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnjax", description="CNN layers for JAX with hand-derived backward passes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"cnnjax.commands.{name}")
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_fast_cpu_convolutions()  # before any JAX computation starts the backends
    module = importlib.import_module(f"cnnjax.commands.{args.command}")
    return int(module.run(args) or 0)


def console_main() -> int:
    """The ``cnnjax`` executable: :func:`main` in a process relaunched for huge pages.

    The relaunch (``cnnjax.runtime.relaunch_with_huge_pages``) happens only here, never in
    :func:`main`, which tests and scripts call in their own processes.
    """
    relaunch_with_huge_pages()
    return main()


if __name__ == "__main__":
    sys.exit(console_main())
