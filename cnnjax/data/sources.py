"""The data sources behind ``load_dataset``: each returns raw NHWC arrays and a pixel scale.

A source gets its checked options and returns a :class:`Raw` record: images in their stored
dtype (uint8 for files), integer labels, the class count, and the value that maps the stored
pixels to ``[0, 1]`` (255 for bytes, 16 for scikit-learn's digits, 1 for synthetic data).
``load_dataset`` then applies ``limit``, scaling and normalisation the same way for all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cnnjax.data import _options as opt
from cnnjax.data.files import read_cifar10_batch, read_idx_pair

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST = "test_batch.bin"


class Raw(NamedTuple):
    """A source's output before limiting, scaling and normalisation."""

    train_images: np.ndarray  # (N, H, W, C), stored dtype
    train_labels: np.ndarray  # (N,) integers in [0, num_classes)
    test_images: np.ndarray  # (M, H, W, C)
    test_labels: np.ndarray  # (M,)
    num_classes: int
    scale: float  # stored pixel value that maps to 1.0


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into train and test, keeping each class's share of the test set.

    The test split holds ``T = floor(N * test_fraction + 0.5)`` examples, shared out over
    the classes by largest remainder: class ``c`` (``n_c`` examples) gets
    ``floor(n_c * test_fraction)``, and the classes with the largest fractional parts
    (ties: smaller class label first) one more each until ``T`` is reached, so every class
    is within one example of its exact share. The indices are shuffled once with
    ``np.random.default_rng(seed)`` and each class's test examples are its first ones in
    that order. Both splits keep the shuffled order, so ``limit`` keeps a random subset.

    Args:
        labels: integer labels, shape ``(N,)``.
        test_fraction: in ``[0, 1)``.
        seed: the split seed.

    Returns:
        ``(train_indices, test_indices)``, disjoint, together a permutation of ``range(N)``.

    >>> labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    >>> train, test = stratified_split(labels, 0.5, seed=0)
    >>> np.bincount(labels[test]).tolist(), np.bincount(labels[train]).tolist()
    ([2, 2], [1, 3])
    """
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * test_fraction
    per_class = np.floor(quotas).astype(np.int64)
    extra = int(np.floor(labels.shape[0] * test_fraction + 0.5)) - int(per_class.sum())
    by_remainder = np.argsort(-(quotas - per_class), kind="stable")
    per_class[by_remainder[:extra]] += 1
    order = np.random.default_rng(seed).permutation(labels.shape[0])
    shuffled = labels[order]
    in_test = np.zeros(labels.shape[0], dtype=bool)  # indexed by position in `order`
    for c, k in zip(classes, per_class, strict=True):
        in_test[np.flatnonzero(shuffled == c)[:k]] = True
    return order[~in_test], order[in_test]


def _split_raw(images, labels, num_classes, scale, o: dict[str, Any], name: str) -> Raw:
    train, test = stratified_split(labels, o["test_fraction"], o["split_seed"])
    if train.size == 0:
        raise ValueError(
            f"load_dataset({name!r}): `test_fraction`={o['test_fraction']} leaves no "
            f"training examples out of {labels.shape[0]}"
        )
    return Raw(images[train], labels[train], images[test], labels[test], num_classes, scale)


def load_digits_raw(o: dict[str, Any]) -> Raw:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0-16), split stratified."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[..., None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    return _split_raw(images, labels, 10, 16.0, o, "digits")


def _find(folder: Path, base: str, name: str) -> Path:
    """``folder/base`` or ``folder/base.gz``, whichever exists (plain first)."""
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"load_dataset({name!r}): neither {base} nor {base}.gz found in {folder}"
    )


def _check_folder(folder: Path, name: str) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"load_dataset({name!r}): `path` {folder} is not a folder")


def load_mnist_raw(o: dict[str, Any], name: str = "mnist") -> Raw:
    """The four standard IDX files (gzipped or not) in the folder ``path``."""
    _check_folder(o["path"], name)
    train_x, train_y, test_x, test_y = (_find(o["path"], base, name) for base in MNIST_FILES)
    train_images, train_labels = read_idx_pair(train_x, train_y, num_classes=10)
    test_images, test_labels = read_idx_pair(test_x, test_y, num_classes=10)
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"load_dataset({name!r}): train images {train_x} are {train_images.shape[1:3]} "
            f"but test images {test_x} are {test_images.shape[1:3]}"
        )
    return Raw(train_images, train_labels, test_images, test_labels, 10, 255.0)


def load_idx_raw(o: dict[str, Any]) -> Raw:
    """One IDX image file and its label file, split stratified into train and test."""
    images, labels = read_idx_pair(o["images"], o["labels"], num_classes=o["num_classes"])
    num_classes = o["num_classes"] or _inferred_classes(labels, o["labels"])
    return _split_raw(images, labels, num_classes, 255.0, o, "idx")


def _inferred_classes(labels: np.ndarray, path: Path) -> int:
    """``max(label) + 1``, refused when some class below the maximum has no example."""
    top = int(labels.max())
    present = np.unique(labels)
    if present.size < top + 1:
        raise ValueError(
            f"load_dataset('idx'): labels in {path} reach {top} but only {present.size} of the "
            f"{top + 1} classes 0..{top} occur, so inferring num_classes={top + 1} is likely "
            f"wrong (label {top} at index {int(np.argmax(labels))}); pass the option "
            f"`num_classes` to say how many classes there are"
        )
    return top + 1


def load_cifar10_raw(o: dict[str, Any]) -> Raw:
    """The binary CIFAR-10 release: ``path`` holds the ``.bin`` files or the
    ``cifar-10-batches-bin`` folder that the release unpacks to."""
    folder = o["path"]
    _check_folder(folder, "cifar10")
    if not (folder / CIFAR10_TEST).exists() and (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    for base in (*CIFAR10_TRAIN, CIFAR10_TEST):
        if not (folder / base).exists():
            raise FileNotFoundError(
                f"load_dataset('cifar10'): {folder / base} not found; `path` must hold the "
                f"binary release ({', '.join(CIFAR10_TRAIN)}, {CIFAR10_TEST}); the Python "
                "(pickle) release is never read"
            )
    train = [read_cifar10_batch(folder / base) for base in CIFAR10_TRAIN]
    test_images, test_labels = read_cifar10_batch(folder / CIFAR10_TEST)
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    return Raw(train_images, train_labels, test_images, test_labels, 10, 255.0)


def load_synthetic_raw(o: dict[str, Any]) -> Raw:
    """Class prototypes plus Gaussian noise: learnable, and cheap to make at any shape.

    Each class ``c`` gets a prototype image with pixels uniform in ``[0, 1)``; an example of
    class ``c`` is its prototype plus ``noise`` times standard normal noise. Labels cycle
    through the classes (balanced) in shuffled order. Everything comes from ``seed``.
    """
    rng = np.random.default_rng(o["seed"])
    k, shape = o["num_classes"], o["image_shape"]
    prototypes = rng.uniform(0.0, 1.0, size=(k, *shape)).astype(np.float32)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % k)
        noise = rng.standard_normal(size=(n, *shape)).astype(np.float32)
        return prototypes[labels] + np.float32(o["noise"]) * noise, labels

    train_images, train_labels = draw(o["num_train"])
    test_images, test_labels = draw(o["num_test"])
    return Raw(train_images, train_labels, test_images, test_labels, k, 1.0)


COMMON = {
    "limit": opt.Option(opt.int_at_least(1, optional=True), None),
    "normalize": opt.Option(opt.choice("train", "fixed", "none"), "train"),
    "mean": opt.Option(opt.floats, None),
    "std": opt.Option(opt.floats, None),
}
_SPLIT = {
    "test_fraction": opt.Option(opt.float_in(0.0, 1.0, high_open=True), 0.2),
    "split_seed": opt.Option(opt.int_at_least(0), 0),
}
_FOLDER = {"path": opt.Option(opt.path, opt.REQUIRED)}

# name -> (source, its own options); every source also takes COMMON.
SOURCES = {
    "digits": (load_digits_raw, _SPLIT),
    "mnist": (load_mnist_raw, _FOLDER),
    "fashion_mnist": (lambda o: load_mnist_raw(o, "fashion_mnist"), _FOLDER),
    "idx": (
        load_idx_raw,
        {
            "images": opt.Option(opt.path, opt.REQUIRED),
            "labels": opt.Option(opt.path, opt.REQUIRED),
            "num_classes": opt.Option(opt.int_at_least(1, optional=True), None),
            **_SPLIT,
        },
    ),
    "cifar10": (load_cifar10_raw, _FOLDER),
    "synthetic": (
        load_synthetic_raw,
        {
            "image_shape": opt.Option(opt.shape3, (8, 8, 1)),
            "num_classes": opt.Option(opt.int_at_least(1), 10),
            "num_train": opt.Option(opt.int_at_least(1), 512),
            "num_test": opt.Option(opt.int_at_least(0), 128),
            "seed": opt.Option(opt.int_at_least(0), 0),
            "noise": opt.Option(opt.float_in(0.0, float("inf"), high_open=True), 0.5),
        },
    ),
}
