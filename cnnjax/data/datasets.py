"""``load_dataset``: one call from a data set's name and options to normalised NHWC arrays.

Every source runs through the same pipeline:

1. the source reads or makes its raw train and test arrays (see :mod:`cnnjax.data.sources`);
2. ``limit=N`` keeps the first ``N`` training examples (all of them when fewer);
3. pixels are scaled to ``[0, 1]`` as float32 (bytes / 255, scikit-learn digits / 16,
   synthetic data as made);
4. each channel is standardised, ``(x - mean[c]) / std[c]``, for train and test alike, with
   ``normalize=`` one of

   - ``"train"`` (default): ``mean`` and ``std`` per channel from the (limited) training
     split, over all examples and pixels; a channel with ``std < 1e-6`` keeps ``std = 1``;
   - ``"fixed"``: the given ``mean=`` and ``std=`` (one number, or one per channel), e.g.
     the ``Dataset.mean`` / ``Dataset.std`` stored with a model, so evaluation normalises
     exactly as training did;
   - ``"none"``: ``mean = 0``, ``std = 1``; images stay in ``[0, 1]``.

The statistics used are stored on the :class:`Dataset` as tuples of floats (in units of the
``[0, 1]``-scaled pixels), ready to be saved with a checkpoint and passed back as options.
The arrays on a ``Dataset`` are read-only.

>>> ds = load_dataset("synthetic", image_shape=(4, 4, 2), num_train=20, num_test=6, seed=1)
>>> ds.train_images.shape, ds.train_labels.shape, ds.test_images.shape, ds.num_classes
((20, 4, 4, 2), (20,), (6, 4, 4, 2), 10)
>>> str(ds.train_images.dtype), str(ds.train_labels.dtype), len(ds.mean)
('float32', 'int32', 2)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cnnjax.data._options import resolve
from cnnjax.data.sources import COMMON, SOURCES

DATASETS = tuple(SOURCES)
_MIN_STD = 1e-6


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Normalised train and test splits of one data set.

    Attributes:
        train_images: float32 ``(N, H, W, C)``, normalised.
        train_labels: int32 ``(N,)`` in ``[0, num_classes)``.
        test_images: float32 ``(M, H, W, C)``, normalised with the same ``mean``/``std``.
        test_labels: int32 ``(M,)``.
        num_classes: the number of classes.
        name: the data set's name as given to :func:`load_dataset`.
        mean: per-channel mean subtracted, in ``[0, 1]`` pixel units, length ``C``.
        std: per-channel standard deviation divided by, length ``C``.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    num_classes: int
    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One example's shape ``(H, W, C)``."""
        return tuple(self.train_images.shape[1:])

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Standardise ``images`` (float, ``(..., C)``, pixels in ``[0, 1]``) as this set was."""
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return (np.asarray(images, dtype=np.float32) - mean) / std

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.train_images.shape}, "
            f"test={self.test_images.shape}, num_classes={self.num_classes}, "
            f"mean={self.mean}, std={self.std})"
        )


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load data set ``name`` (one of :data:`DATASETS`) with its options.

    Options of every source: ``limit`` (int or None), ``normalize`` (``"train"``,
    ``"fixed"``, ``"none"``), ``mean`` and ``std`` (only with ``"fixed"``). Per source:

    - ``digits``: ``test_fraction=0.2``, ``split_seed=0`` (stratified split, see
      :func:`cnnjax.data.sources.stratified_split`);
    - ``mnist``, ``fashion_mnist``: ``path``, a folder with the four standard IDX files;
    - ``idx``: ``images``, ``labels`` (IDX file paths), ``num_classes=None`` (then
      ``max(label) + 1``), ``test_fraction=0.2``, ``split_seed=0`` (stratified);
    - ``cifar10``: ``path``, the folder of the binary release;
    - ``synthetic``: ``image_shape=(8, 8, 1)``, ``num_classes=10``, ``num_train=512``,
      ``num_test=128``, ``seed=0``, ``noise=0.5``.

    Returns:
        A :class:`Dataset`; images ``(N, H, W, C)`` float32, labels ``(N,)`` int32.

    Raises:
        TypeError: ``name`` or an option has the wrong type.
        ValueError: unknown name or option, a missing or bad option value, or a corrupt
            file (the message names the file and what is wrong).
        FileNotFoundError: a data file or folder does not exist.
    """
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: `name` must be a string, got {name!r}")
    if name not in SOURCES:
        raise ValueError(f"load_dataset: unknown data set {name!r}; known: {', '.join(SOURCES)}")
    source, own = SOURCES[name]
    o = resolve(name, {**own, **COMMON}, options)
    raw = source(o)
    train_images, train_labels = raw.train_images, raw.train_labels
    if o["limit"] is not None:
        train_images, train_labels = train_images[: o["limit"]], train_labels[: o["limit"]]
    train_images = _unit_float(train_images, raw.scale)
    test_images = _unit_float(raw.test_images, raw.scale)
    mean, std = _statistics(o, train_images, name)
    for images in (train_images, test_images):
        images -= np.asarray(mean, dtype=np.float32)
        images /= np.asarray(std, dtype=np.float32)
    arrays = [train_images, train_labels.astype(np.int32), test_images]
    arrays.append(raw.test_labels.astype(np.int32))
    for array in arrays:
        array.setflags(write=False)
    return Dataset(*arrays, num_classes=raw.num_classes, name=name, mean=mean, std=std)


def _unit_float(images: np.ndarray, scale: float) -> np.ndarray:
    """A float32 copy of ``images`` divided by ``scale``."""
    out = np.array(images, dtype=np.float32)
    out /= np.float32(scale)
    return out


def channel_stats(images: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of ``(N, H, W, C)`` images, in float64.

    Two passes (mean, then squared deviations) over chunks of ``chunk`` examples, so the
    float64 temporaries stay small for large sets.

    >>> x = np.arange(8.0).reshape(2, 2, 1, 2)
    >>> [v.tolist() for v in channel_stats(x, chunk=1)]
    [[3.0, 4.0], [2.23606797749979, 2.23606797749979]]
    """
    pixels = images.reshape(-1, images.shape[-1])  # (N * H * W, C)
    step = chunk * images.shape[1] * images.shape[2]
    total = np.zeros(images.shape[-1], dtype=np.float64)
    for start in range(0, pixels.shape[0], step):
        total += pixels[start : start + step].astype(np.float64).sum(axis=0)
    mean = total / pixels.shape[0]
    squares = np.zeros_like(mean)
    for start in range(0, pixels.shape[0], step):
        centred = pixels[start : start + step].astype(np.float64) - mean
        squares += np.einsum("pc,pc->c", centred, centred)
    return mean, np.sqrt(squares / pixels.shape[0])


def _statistics(
    o: dict[str, Any], train_images: np.ndarray, name: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The ``(mean, std)`` per channel that ``normalize`` asks for, checked."""
    channels, where = train_images.shape[-1], f"load_dataset({name!r})"
    mode, mean, std = o["normalize"], o["mean"], o["std"]
    if mode != "fixed":
        if mean is not None or std is not None:
            raise ValueError(
                f"{where}: options `mean` and `std` apply only with normalize='fixed', "
                f"got normalize={mode!r}"
            )
        if mode == "none":
            return (0.0,) * channels, (1.0,) * channels
        mean_c, std_c = channel_stats(train_images)
        std_c = np.where(std_c < _MIN_STD, 1.0, std_c)
        return tuple(mean_c.tolist()), tuple(std_c.tolist())
    if mean is None or std is None:
        raise ValueError(f"{where}: normalize='fixed' needs both options `mean` and `std`")
    fixed = []
    for key, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels):
            raise ValueError(
                f"{where}: option `{key}` must have 1 or C={channels} entries, got {values!r}"
            )
        if not all(np.isfinite(values)) or (key == "std" and min(values) <= 0):
            need = "positive and finite" if key == "std" else "finite"
            raise ValueError(f"{where}: option `{key}` must be {need}, got {values!r}")
        fixed.append(values * (channels // len(values)))
    return fixed[0], fixed[1]
