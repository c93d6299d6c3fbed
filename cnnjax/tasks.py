"""What a model learns: the per-task piece of the one train step and the one eval step.

``[task] kind`` picks one of two tasks; :func:`make_task` builds it from the config:

* :class:`Classify` (``kind = "classify"``, the default): the model maps images to logits;
  the loss is ``ops.softmax_cross_entropy`` against the integer labels (with
  ``train.label_smoothing``), the metric the accuracy. Records ``train_accuracy``,
  ``test_loss`` and ``test_accuracy``.
* :class:`Denoise` (``kind = "denoise"``): an image-to-image model (``cnnjax.nn.zoo.AUTOENCODERS``)
  gets the clean pixels in ``[0, 1]`` plus Gaussian noise of standard deviation
  ``task.noise`` (0 trains a plain autoencoder) and is scored by ``ops.mse_loss`` against
  the clean pixels; labels are unused. The metric is that MSE, so the records hold
  ``train_loss`` and ``test_mse`` (the train loss *is* the train MSE).

Keys. A train step's key feeds the model (dropout) and, for denoise, the noise; the two draw
from separate folds, ``fold_in(key, 0)`` and ``fold_in(key, 1)`` (classify passes the key to
the model unchanged, as before tasks existed). The test noise is drawn once from the fixed
key :data:`TEST_NOISE_SEED`, independent of the run's seed, the batch size and the devices:
every epoch, every run and ``cnnjax eval`` score the same noisy test images.

>>> import jax.numpy as jnp
>>> from cnnjax import ops
>>> task = Denoise(noise=0.0)
>>> x = jnp.zeros((2, 4, 4, 1))
>>> inputs, targets, _ = task.train_inputs(x, jnp.zeros(2, jnp.int32), jax.random.key(0))
>>> task.score(ops, inputs + 0.5, targets).tolist()
[0.25, 0.25]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TEST_NOISE_SEED", "Classify", "Denoise", "make_task", "task_of"]

# The key of the test set's noise (denoise): fixed, so test MSEs are comparable across runs.
TEST_NOISE_SEED = 7


@dataclasses.dataclass(frozen=True)
class Classify:
    """Integer labels; loss ``softmax_cross_entropy``, metric the accuracy."""

    label_smoothing: float = 0.0
    kind: ClassVar[str] = "classify"
    metric: ClassVar[str] = "accuracy"  # the record's ``test_<metric>``; larger is better

    def prepare(self, data: Any) -> Any:
        """The data set as the model sees it: normalised images, as loaded."""
        return data

    def test_arrays(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` of the test split: the images and their labels."""
        return data.test_images, data.test_labels

    def train_inputs(self, images, labels, key):
        """``(model inputs, targets, model key)`` of one training batch."""
        return images, labels, key

    def loss(self, ops, outputs, targets) -> jax.Array:
        """Per-example losses ``(N,)``."""
        return ops.softmax_cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)

    def score(self, ops, outputs, targets) -> jax.Array:
        """Per-example metric ``(N,)``: 1.0 where the arg-max class is the label."""
        del ops
        hit = jnp.argmax(outputs, axis=-1).astype(targets.dtype) == targets
        return hit.astype(outputs.dtype)

    def record(self, loss: float, score: float, split: str) -> dict[str, float]:
        """The metrics a ``split`` ("train", "test") contributes to an epoch's record."""
        return {f"{split}_loss": loss, f"{split}_accuracy": score}

    def summary(self, history: list[dict]) -> dict[str, float]:
        """The metrics of ``summary.json``: the last epoch's and the best test accuracy."""
        last = history[-1]
        keys = ("test_accuracy", "test_loss", "train_accuracy", "train_loss")
        best = max(r["test_accuracy"] for r in history)
        return {**{k: last[k] for k in keys}, "best_test_accuracy": best}

    def baseline(self, data: Any) -> dict[str, float]:
        """Figures for ``summary.json`` that do not depend on the model: none."""
        del data
        return {}

    def plot_examples(self, out, exp, params, state, *, title: str) -> None:
        """Pictures of the model at work written at the end of a run: none."""


@dataclasses.dataclass(frozen=True)
class Denoise:
    """Clean pixels in ``[0, 1]`` plus Gaussian noise in, clean pixels out; loss and metric
    the per-example ``mse_loss``."""

    noise: float = 0.25
    kind: ClassVar[str] = "denoise"
    metric: ClassVar[str] = "mse"  # smaller is better

    def prepare(self, data: Any) -> Any:
        """The data set with pixels in ``[0, 1]``: the loaded normalisation undone
        (``x * std + mean`` per channel), so the noise and the MSE are in pixel units and
        ``cnnjax eval``, normalising with the stored statistics, sees the same pixels."""
        mean, std = np.float32(data.mean), np.float32(data.std)
        return dataclasses.replace(
            data,
            train_images=data.train_images * std + mean,
            test_images=data.test_images * std + mean,
        )

    def test_arrays(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(noisy, clean)`` test images; the noise comes from :data:`TEST_NOISE_SEED`."""
        clean = data.test_images
        return self.add_noise(jax.random.key(TEST_NOISE_SEED), clean), clean

    def add_noise(self, key, clean) -> Any:
        """``clean + noise * N(0, 1)``, in ``clean``'s dtype (NumPy in, NumPy out)."""
        draw = jax.random.normal(key, clean.shape, jnp.asarray(clean).dtype)
        noisy = clean + jnp.asarray(self.noise, draw.dtype) * draw
        return np.asarray(noisy) if isinstance(clean, np.ndarray) else noisy

    def train_inputs(self, images, labels, key):
        """``(noisy images, clean images, model key)``; the labels are unused."""
        del labels
        noisy = self.add_noise(jax.random.fold_in(key, 1), images)
        return noisy, images, jax.random.fold_in(key, 0)

    def loss(self, ops, outputs, targets) -> jax.Array:
        """Per-example ``ops.mse_loss`` ``(N,)``."""
        return ops.mse_loss(outputs, targets)

    def score(self, ops, outputs, targets) -> jax.Array:
        """Per-example MSE ``(N,)`` (the loss itself)."""
        return ops.mse_loss(outputs, targets)

    def record(self, loss: float, score: float, split: str) -> dict[str, float]:
        """``train_loss`` (the train MSE) or ``test_mse``."""
        return {"train_loss": loss} if split == "train" else {"test_mse": score}

    def summary(self, history: list[dict]) -> dict[str, float]:
        """The metrics of ``summary.json``: the last epoch's and the best (least) test MSE."""
        last = history[-1]
        best = min(r["test_mse"] for r in history)
        return {
            "test_mse": last["test_mse"],
            "train_loss": last["train_loss"],
            "best_test_mse": best,
        }

    def baseline(self, data: Any) -> dict[str, float]:
        """``noisy_mse``: the test MSE of the noisy input itself, what the model must beat."""
        noisy, clean = self.test_arrays(data)
        return {"noisy_mse": float(np.mean((noisy - clean) ** 2, dtype=np.float64))}

    def plot_examples(self, out, exp, params, state, *, title: str, count: int = 10) -> None:
        """``<out>/denoise.png``: the first ``count`` test images clean, noisy and
        reconstructed (see :func:`cnnjax.metrics.plot_denoising`)."""
        from cnnjax.metrics import plot_denoising

        noisy, clean = (a[:count] for a in self.test_arrays(exp.data))
        recon, _ = exp.model.apply(params, state, jnp.asarray(noisy), train=False, ops=exp.ops)
        mse = float(jnp.mean(exp.ops.mse_loss(recon, jnp.asarray(clean))))
        noisy_mse = float(np.mean((noisy - clean) ** 2))
        plot_denoising(
            Path(out) / "denoise.png",
            clean,
            noisy,
            np.asarray(recon),
            f"{title}, noise std {self.noise:g}: MSE of these {len(clean)} test images "
            f"{noisy_mse:.4f} noisy, {mse:.4f} reconstructed",
        )


Task = Classify | Denoise


def make_task(task_config: Any, *, label_smoothing: float = 0.0) -> Task:
    """The task of a ``[task]`` table (``cnnjax.config.TaskConfig``)."""
    if task_config.kind == "denoise":
        return Denoise(noise=task_config.noise)
    return Classify(label_smoothing=label_smoothing)


def task_of(config: Any) -> Task:
    """The task of an ``ExperimentConfig``."""
    return make_task(config.task, label_smoothing=config.train.label_smoothing)
