"""``cnnjax train CONFIG [--set KEY=VALUE ...] [--out DIR] [--resume | --overwrite]``.

Parses, then calls :func:`cnnjax.train.train_and_evaluate`; the last line printed is
``test_accuracy=0.XXXX``, or ``test_mse=0.XXXX`` for a ``[task] kind = "denoise"`` run.
"""

from __future__ import annotations

import argparse
import sys

from cnnjax.commands import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment config (TOML), e.g. experiments/digits_cnn.toml")
    add_override_argument(parser)
    parser.add_argument("--out", help="output directory (default: output.dir or runs/<name>)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the output directory to its train.epochs (a larger "
        "--set train.epochs=N extends it; no other setting may change)",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in the output directory (kept until the new run's "
        "first checkpoint)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `cnnjax --help` and `cnnjax train --help` start no JAX.
    from cnnjax.checkpoint import CheckpointError
    from cnnjax.config import ConfigError, load_config
    from cnnjax.rundir import RunDirError
    from cnnjax.tasks import task_of
    from cnnjax.train import NonFiniteLossError, train_and_evaluate

    try:
        config = load_config(args.config, args.overrides)
        summary = train_and_evaluate(config, args.out, resume=args.resume, overwrite=args.overwrite)
    except (ConfigError, CheckpointError, RunDirError, NonFiniteLossError, OSError) as e:
        print(f"cnnjax train: error: {e}", file=sys.stderr)
        return 1
    import jax

    if jax.process_index() == 0:  # multi-host: one report, from the process that writes
        name = f"test_{task_of(config).metric}"  # test_accuracy, or test_mse (denoise)
        print(f"{name}={summary[name]:.4f}")
    return 0
