"""What a training run writes and shows: the progress bar, epoch lines, metric files, curves.

>>> format_epoch({"epoch": 2, "epochs": 10, "train_loss": 0.25, "train_accuracy": 0.9,
...               "test_accuracy": 0.95, "images_per_second": 1234.5})
'epoch  2/10  train_loss 0.2500  train_acc 0.9000  test_acc 0.9500  1234 img/s'
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

# Fields that depend on the machine's speed; everything else in a metrics record is a pure
# function of the config and the seed (on one machine).
TIMING_FIELDS = ("epoch_seconds", "train_seconds", "compile_seconds", "images_per_second")


class ProgressBar:
    """A one-line progress bar on a terminal (stderr by default); silent when not a TTY."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30):
        self.total, self.label, self.width = total, label, width
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.count, self._last = 0, 0.0

    def update(self, n: int = 1, **fields: float) -> None:
        self.count += n
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.1 and self.count < self.total):
            return
        self._last = now
        filled = self.width * self.count // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        extra = "".join(f"  {k} {v:.4f}" for k, v in fields.items())
        self.stream.write(f"\r{self.label} [{bar}] {self.count}/{self.total}{extra}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def format_epoch(record: Mapping[str, Any]) -> str:
    """The line printed after each epoch: the metrics the record has (accuracies for a
    classifier, the test MSE for a denoiser)."""
    width = len(str(record["epochs"]))
    shown = [(label, record[k]) for k, label in _EPOCH_FIELDS if k in record]
    return (
        f"epoch {record['epoch']:>{width}}/{record['epochs']}"
        + "".join(f"  {label} {value:.4f}" for label, value in shown)
        + f"  {record['images_per_second']:.0f} img/s"
    )


# (record key, label) of the metrics an epoch line shows, in order.
_EPOCH_FIELDS = (
    ("train_loss", "train_loss"),
    ("train_accuracy", "train_acc"),
    ("test_accuracy", "test_acc"),
    ("test_mse", "test_mse"),
)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_metrics(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    """``metrics.jsonl``: one JSON object per epoch, rewritten whole (so a resumed run's file
    holds exactly the checkpointed history)."""
    write_text_atomic(path, "".join(json.dumps(dict(r), sort_keys=True) + "\n" for r in history))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read ``metrics.jsonl`` back into a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_curves(
    path: Path,
    history: Sequence[Mapping[str, Any]],
    title: str,
    *,
    baselines: Mapping[str, float] | None = None,
) -> None:
    """``curves.png``: the losses per epoch (log scale), and the accuracy when recorded.

    The loss panel plots what the records hold of ``train_loss``, ``test_loss`` and
    ``test_mse`` (a denoising run's test metric, in the units of its loss), plus each of
    ``baselines`` (label -> value, e.g. the noisy input's MSE) as a dashed line. The accuracy
    panel (train, test) appears when the records have ``test_accuracy``; its axis spans the
    test curve and the train curve's second half (padded by a tenth), so a high test accuracy
    is not flattened against an early train accuracy near chance. Epoch ticks are integers.
    Uses matplotlib's Agg canvas directly, so the caller's pyplot backend is left alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history]
    accuracy = all("test_accuracy" in r for r in history)
    fig = Figure(figsize=(9, 3.5) if accuracy else (5, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2) if accuracy else [fig.subplots(1, 1)]
    losses = [k for k in LOSS_CURVES if all(k in r for r in history)]
    values = [r[k] for r in history for k in losses] + list((baselines or {}).values())
    for k in losses:
        axes[0].plot(epochs, [r[k] for r in history], marker="o", label=k.replace("_", " "))
    for label, value in (baselines or {}).items():
        axes[0].axhline(value, color="gray", linestyle="--", label=label)
    axes[0].set_ylabel("loss")
    if values and all(v > 0 for v in values):
        axes[0].set_yscale("log")
        axes[0].set_ylabel("loss (log scale)")
    if accuracy:
        for split in ("train", "test"):
            axes[1].plot(epochs, [r[f"{split}_accuracy"] for r in history], marker="o", label=split)
        axes[1].set_ylabel("accuracy")
        axes[1].set_ylim(*_accuracy_range(history))
    _style(axes)
    fig.suptitle(title)
    _save(fig, path)


# The loss-like curves of a run's records, in plotting order (test_mse: denoise).
LOSS_CURVES = ("train_loss", "test_loss", "test_mse")


def _style(axes) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()


def _save(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically (a temporary file, then ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def _accuracy_range(history: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    values = [r["test_accuracy"] for r in history]
    values += [r["train_accuracy"] for r in history[len(history) // 2 :]]
    lo, hi = min(values), max(values)
    pad = max(0.1 * (hi - lo), 0.005)
    return max(lo - pad, 0.0), min(hi + pad, 1.0)


def plot_denoising(path: Path, clean, noisy, reconstructed, title: str) -> None:
    """A picture of denoising: rows of ``clean``, ``noisy`` and ``reconstructed`` images.

    Args:
        path: the PNG to write (atomically).
        clean, noisy, reconstructed: ``(K, H, W, 1)`` arrays of pixels in ``[0, 1]`` (shown
            clipped to it, in grey levels), one column per image.
        title: the figure's title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = len(clean)
    fig = Figure(figsize=(1.1 * count, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, count, squeeze=False)
    rows = ((clean, "clean"), (noisy, "noisy"), (reconstructed, "reconstructed"))
    for row, (images, label) in enumerate(rows):
        for j in range(count):
            ax = axes[row, j]
            ax.imshow(np.clip(np.asarray(images[j, :, :, 0]), 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)


def mean_grad_norms(per_step: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``{layer: mean over the steps}`` of per-step ``{layer: gradient norm}`` records (device
    scalars: one stack per layer at the end of the epoch, no per-step host transfer)."""
    import jax.numpy as jnp
    import numpy as np

    return {
        layer: float(np.mean(np.asarray(jnp.stack([r[layer] for r in per_step]), np.float64)))
        for layer in per_step[0]
    }


def plot_grad_norms(path: Path, history: Sequence[Mapping[str, Any]], title: str) -> None:
    """``grad_norms.png``: each layer's parameter-gradient norm (epoch mean) per epoch, log
    scale, one line per layer in the model's order (epochs without the record are skipped)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    logged = [r for r in history if "grad_norms" in r]
    layers = list(logged[-1]["grad_norms"])
    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"]
    for i, layer in enumerate(layers):
        points = [(r["epoch"], r["grad_norms"][layer]) for r in logged if layer in r["grad_norms"]]
        color = cmap(0.9 * i / max(len(layers) - 1, 1))
        ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=layer, color=color)
    if all(v > 0 for r in logged for v in r["grad_norms"].values()):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("|dL/d params| per layer (epoch mean)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
