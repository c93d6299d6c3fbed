"""Mini-batches for one epoch, deterministic in ``(seed, epoch)``, with optional augmentation.

The shuffle of epoch ``e`` comes from ``np.random.default_rng([seed, e, 0])`` and the
augmentation of batch ``b`` from ``np.random.default_rng([seed, e, 1, b])``: a run resumed
at any epoch (or batch) sees exactly the batches it would have seen, and changing the
augmentation never changes the order.

>>> import numpy as np
>>> x, y = np.zeros((10, 4, 4, 1), np.float32), np.arange(10)
>>> [b[1].tolist() for b in epoch_batches(x, y, 4, seed=0, epoch=0, shuffle=False)]
[[0, 1, 2, 3], [4, 5, 6, 7]]
>>> num_batches(10, 4, drop_last=True), num_batches(10, 4, drop_last=False)
(2, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from cnnjax.data._options import is_int

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AUGMENTATIONS = ("crop_flip", "crop_flip_reflect")


def num_batches(n: int, batch_size: int, drop_last: bool = True) -> int:
    """The number of batches :func:`epoch_batches` yields for ``n`` examples.

    ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.
    """
    for name, value, minimum in (("n", n, 0), ("batch_size", batch_size, 1)):
        if not is_int(value):
            raise TypeError(f"num_batches: `{name}` must be an int, got {value!r}")
        if value < minimum:
            raise ValueError(f"num_batches: `{name}` must be >= {minimum}, got {value!r}")
    return n // batch_size if drop_last else -(-n // batch_size)


def crop_flip(
    images: np.ndarray, rng: np.random.Generator, *, pad: int = 4, mode: str = "zero"
) -> np.ndarray:
    """Pad by ``pad``, crop back to ``H x W`` at a random offset, flip half horizontally.

    Each image gets its own offset (uniform in ``[0, 2 * pad]`` per axis) and a fair coin for
    the left-right flip. ``mode="zero"`` pads with 0 (the mean, on normalised images);
    ``mode="reflect"`` mirrors the border. Meant for natural images (CIFAR-10); a flip turns
    a digit into another shape.

    Args:
        images: ``(B, H, W, C)``.
        rng: the generator that draws offsets and flips.
        pad: pixels added on every side.
        mode: ``"zero"`` or ``"reflect"``.

    Returns:
        ``(B, H, W, C)``, the dtype of ``images``.

    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> crop_flip(x, np.random.default_rng(0), pad=0).shape
    (1, 4, 4, 1)
    """
    if images.ndim != 4:
        raise ValueError(f"crop_flip: `images` must have rank 4 (B, H, W, C), got {images.shape}")
    if not is_int(pad) or pad < 0:
        raise ValueError(f"crop_flip: `pad` must be an int >= 0, got {pad!r}")
    if mode not in ("zero", "reflect"):
        raise ValueError(f"crop_flip: `mode` must be 'zero' or 'reflect', got {mode!r}")
    b, h, w, _ = images.shape
    np_mode = "constant" if mode == "zero" else "reflect"
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode=np_mode)
    dy = rng.integers(0, 2 * pad + 1, size=b)
    dx = rng.integers(0, 2 * pad + 1, size=b)
    flip = rng.random(size=b) < 0.5
    rows = dy[:, None] + np.arange(h)  # (B, H)
    cols = np.where(flip[:, None], w - 1 - np.arange(w), np.arange(w)) + dx[:, None]  # (B, W)
    return padded[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _augmenter(augment: Any) -> Augment | None:
    if augment is None or callable(augment):
        return augment
    if augment == "crop_flip":
        return crop_flip
    if augment == "crop_flip_reflect":
        return lambda images, rng: crop_flip(images, rng, mode="reflect")
    raise ValueError(
        f"epoch_batches: `augment` must be None, one of {AUGMENTATIONS} or a callable "
        f"(images, rng) -> images, got {augment!r}"
    )


def epoch_batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_last: bool = True,
    augment: str | Augment | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(images, labels)`` batches covering one epoch.

    Arguments are checked when this is called, not at the first batch.

    Args:
        images: ``(N, H, W, C)`` (any shape with ``N`` first when ``augment`` is None).
        labels: ``(N,)``.
        batch_size: examples per batch, ``>= 1``.
        seed: ``>= 0``; with ``epoch`` it fixes the order and the augmentation.
        epoch: ``>= 0``.
        shuffle: a fresh permutation per epoch; else the stored order.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        augment: None, ``"crop_flip"`` (pad 4 with zeros, random crop, random horizontal
            flip), ``"crop_flip_reflect"`` (the same, reflect padding), or a callable
            ``(images, rng) -> images``.

    Returns:
        An iterator of :func:`num_batches` pairs: images ``(B, ...)`` in the dtype given
        (new arrays, never views of ``images``) and labels ``(B,)`` as int32.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if labels.ndim != 1 or images.ndim < 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"epoch_batches: `images` (N, ...) and `labels` (N,) must share N, got shapes "
            f"{images.shape} and {labels.shape}"
        )
    for name, value in (("seed", seed), ("epoch", epoch)):
        if not is_int(value):
            raise TypeError(f"epoch_batches: `{name}` must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"epoch_batches: `{name}` must be >= 0, got {value!r}")
    count = num_batches(images.shape[0], batch_size, drop_last)
    augmenter = _augmenter(augment)
    if augmenter is not None and images.ndim != 4:
        raise ValueError(f"epoch_batches: `augment` needs (N, H, W, C) images, got {images.shape}")
    n = images.shape[0]
    order = np.random.default_rng([seed, epoch, 0]).permutation(n) if shuffle else np.arange(n)
    return _generate(images, labels, order, batch_size, count, augmenter, (seed, epoch))


def _generate(images, labels, order, batch_size, count, augmenter, seed_epoch):
    for b in range(count):
        index = order[b * batch_size : (b + 1) * batch_size]
        batch = images[index]
        if augmenter is not None:
            batch = augmenter(batch, np.random.default_rng([*seed_epoch, 1, b]))
        yield batch, labels[index].astype(np.int32)
