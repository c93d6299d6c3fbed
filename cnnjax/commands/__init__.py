"""Subcommands of the ``cnnjax`` CLI: each has ``add_arguments(parser)`` and ``run(args)``."""

from __future__ import annotations

import argparse


def add_override_argument(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``, as ``load_config`` takes it."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, value in TOML syntax (train.epochs=3, "
        'optimizer.name="sgd", data.options.path="..."); repeatable',
    )
