"""``cnnjax eval CONFIG --checkpoint PATH [--set KEY=VALUE ...]``: test a saved model.

Parses, then calls :func:`cnnjax.train.evaluate_checkpoint`, which scores on the data split
the checkpoint was trained with (a config whose ``[data]`` differs is refused unless
``--other-data``); the last line printed is ``test_accuracy=0.XXXX``, or ``test_mse=0.XXXX``
for a ``[task] kind = "denoise"`` run.
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
    parser.add_argument(
        "--other-data",
        action="store_true",
        help="score on the config's data even where it differs from the data the checkpoint "
        "was trained with (default: refuse, since the test split may hold training images)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `cnnjax --help` starts no JAX.
    from cnnjax.checkpoint import CheckpointError
    from cnnjax.config import ConfigError, load_config
    from cnnjax.train import evaluate_checkpoint

    try:
        config = load_config(args.config, args.overrides)
        result = evaluate_checkpoint(config, args.checkpoint, other_data=args.other_data)
    except (ConfigError, CheckpointError, OSError) as e:
        print(f"cnnjax eval: error: {e}", file=sys.stderr)
        return 1
    if result["metric"] == "mse":
        detail = f"MSE {result['noisy_mse']:.4f} of the noisy input"
    else:
        detail = f"test_loss {result['test_loss']:.4f}"
    print(
        f"{config.name}: checkpoint {args.checkpoint} (epoch {result['epoch']}) on "
        f"{result['num_test']} test images: {detail}"
    )
    name = f"test_{result['metric']}"
    print(f"{name}={result[name]:.4f}")
    return 0
