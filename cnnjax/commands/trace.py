"""``cnnjax trace CONFIG [--checkpoint PATH] [--batch N] [--json PATH] [--png PATH]``.

One batch of the config's training data through its model: the per-layer gradient report of
:func:`cnnjax.trace.trace_model` (hand VJPs against autodiff of the reference), printed as a
table, optionally written as JSON and as a PNG of the gradient norms per layer. Classifier
configs only: a ``[task] kind = "denoise"`` config is refused, naming ``task.kind``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cnnjax.commands import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the experiment config (TOML) whose model and data to trace")
    parser.add_argument(
        "--checkpoint", help="trace the parameters of this checkpoint.npz (default: the init)"
    )
    parser.add_argument("--batch", type=int, default=32, help="images in the batch (32)")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this path")
    parser.add_argument(
        "--png",
        type=Path,
        help="write the gradient-norm plot here (default: trace.png beside --json, else none)",
    )
    add_override_argument(parser)


def _check_writable(path: Path | None, what: str) -> str | None:
    if path is not None and not path.parent.is_dir():
        return f"{what} {path}: folder {path.parent} does not exist"
    return None


def run(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp

    from cnnjax.checkpoint import CheckpointError, load_checkpoint
    from cnnjax.config import ConfigError, load_config
    from cnnjax.trace import format_table, plot_trace, to_json, trace_model
    from cnnjax.train import build_experiment

    png = args.png or (args.json.with_suffix(".png") if args.json else None)
    problems = [_check_writable(args.json, "--json"), _check_writable(png, "--png")]
    if args.batch < 1:
        problems.append(f"--batch must be >= 1, got {args.batch}")
    for problem in filter(None, problems):
        print(f"cnnjax trace: error: {problem}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, args.overrides)
        if config.task.kind != "classify":  # the trace's loss is the classifier's
            raise ConfigError(
                config.source,
                "task.kind",
                f"cnnjax trace follows a classifier's cross-entropy gradients and does not "
                f"trace task.kind = {config.task.kind!r}; to compare a denoiser's hand VJPs "
                "with autodiff, train it again with --set 'train.grad=\"autodiff\"'",
            )
        exp = build_experiment(config)
        params, state = exp.params, exp.state
        if args.checkpoint:
            trees, _ = load_checkpoint(args.checkpoint, {"params": params, "state": state})
            params, state = (jax.tree.map(jnp.asarray, trees[k]) for k in ("params", "state"))
    except (ConfigError, CheckpointError, FileNotFoundError) as e:
        print(f"cnnjax trace: error: {e}", file=sys.stderr)
        return 1
    images, labels = exp.data.train_images, exp.data.train_labels
    batch = min(args.batch, int(images.shape[0]))
    rows = trace_model(exp.model, params, state, images[:batch], labels[:batch], seed=config.seed)
    print(f"{config.name}: model {config.model.name}, {batch} training images, loss gradients")
    print(format_table(rows))
    if args.json:
        report = {"config": str(args.config), "model": config.model.name, "batch": batch}
        args.json.write_text(json.dumps({**report, "layers": to_json(rows)}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if png:
        plot_trace(rows, png, title=f"{config.name}: per-layer gradient norms ({batch} images)")
        print(f"wrote {png}")
    return 0
