"""A tiny finished run of digits_cnn that the corpus cases copy and then abuse."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
DIGITS = str(ROOT / "experiments" / "digits_cnn.toml")
# 2 epochs of 2 steps on synthetic 8x8 images: the schedule's warm-up is one epoch.
TINY = [
    'data.name="synthetic"',
    "data.options={image_shape=[8, 8, 1], num_train=32, num_test=12, seed=3}",
    "train.batch_size=16",
    "train.epochs=2",
    "train.eval_batch_size=16",
    "output.plot=false",
]


def sets(items: list[str]) -> list[str]:
    """``--set`` arguments for ``items``."""
    return [a for item in items for a in ("--set", item)]


def train_argv(out: Path, *extra: str, items: list[str] = TINY) -> list[str]:
    return ["train", DIGITS, "--out", str(out), *sets(items), *extra]


def eval_argv(ckpt: Path, *extra: str, items: list[str] = TINY) -> list[str]:
    return ["eval", DIGITS, "--checkpoint", str(ckpt), *sets(items), *extra]


def copier(src: Path, dst: Path):
    """A ``Case.setup`` that puts a fresh copy of the run ``src`` at ``dst``."""

    def setup() -> None:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)

    return setup
