"""Data sets as normalised NHWC numpy arrays, and deterministic mini-batches (numpy only).

``load_dataset(name, **options)`` returns a :class:`Dataset`; ``epoch_batches`` yields one
epoch of ``(images, labels)`` batches, fixed by ``(seed, epoch)``. Sources: ``digits``
(scikit-learn's bundled 8x8 digits, the embedded default), ``mnist`` and ``fashion_mnist``
(a folder of IDX files), ``idx`` (one IDX image file and its labels), ``cifar10`` (the binary
release) and ``synthetic`` (learnable random data for tests).

>>> from cnnjax.data import load_dataset, epoch_batches
>>> ds = load_dataset("digits", limit=100)
>>> ds.train_images.shape, ds.test_images.shape, ds.input_shape
((100, 8, 8, 1), (359, 8, 8, 1), (8, 8, 1))
>>> batches = list(epoch_batches(ds.train_images, ds.train_labels, 32, seed=0, epoch=0))
>>> [images.shape[0] for images, labels in batches]
[32, 32, 32]
"""

from cnnjax.data.batches import AUGMENTATIONS, crop_flip, epoch_batches, num_batches
from cnnjax.data.datasets import DATASETS, Dataset, channel_stats, load_dataset
from cnnjax.data.files import read_cifar10_batch, read_idx, read_idx_pair
from cnnjax.data.sources import stratified_split

__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "Dataset",
    "channel_stats",
    "crop_flip",
    "epoch_batches",
    "load_dataset",
    "num_batches",
    "read_cifar10_batch",
    "read_idx",
    "read_idx_pair",
    "stratified_split",
]
