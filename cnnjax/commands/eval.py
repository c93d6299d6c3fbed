"""``cnnjax eval CONFIG --checkpoint PATH [--set KEY=VALUE ...]``: test a saved model.

Parses, then calls :func:`cnnjax.train.evaluate_checkpoint`; the last line printed is
``test_accuracy=0.XXXX``.
"""

from __future__ import annotations

import argparse
import sys

from cnnjax.commands import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", help="the experiment config (TOML) the checkpoint was trained with"
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a checkpoint.npz written by cnnjax train"
    )
    add_override_argument(parser)


def run(args: argparse.Namespace) -> int:
    from cnnjax.checkpoint import CheckpointError
    from cnnjax.config import ConfigError, load_config
    from cnnjax.train import evaluate_checkpoint

    try:
        config = load_config(args.config, args.overrides)
        result = evaluate_checkpoint(config, args.checkpoint)
    except (ConfigError, CheckpointError, FileNotFoundError) as e:
        print(f"cnnjax eval: error: {e}", file=sys.stderr)
        return 1
    print(
        f"{config.name}: checkpoint {args.checkpoint} (epoch {result['epoch']}) on "
        f"{result['num_test']} test images: test_loss {result['test_loss']:.4f}"
    )
    print(f"test_accuracy={result['test_accuracy']:.4f}")
    return 0
