"""Readers for the on-disk formats: IDX (MNIST, Fashion-MNIST) and binary CIFAR-10.

Every reader checks the bytes itself and fails with a ``ValueError`` (``FileNotFoundError``
for a missing file) whose message names the file and what was wrong; errors from ``gzip``,
``zlib`` or ``numpy`` never escape. A file is decompressed when its name ends in ``.gz`` or
its first two bytes are the gzip magic ``1f 8b``. Nothing is ever unpickled.

>>> import gzip, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
>>> _ = (folder / "labels.gz").write_bytes(gzip.compress(header + bytes([7, 0, 2])))
>>> read_idx(folder / "labels.gz", ndim=1).tolist()
[7, 0, 2]
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type codes (third magic byte) -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

CIFAR10_RECORD = 1 + 3 * 32 * 32  # one label byte, then a 3x32x32 image stored CHW


def read_bytes(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of ``path``, gunzipped when it is gzip (by ``.gz`` name or magic bytes).

    Args:
        path: the file to read.
        what: how messages name the file, e.g. ``"IDX file"``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: ``path`` is a directory, or its gzip stream is corrupt or truncated.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{what} {path}: is a directory, expected a file") from None
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{what} {path}: corrupt gzip data ({err})") from None
    return raw


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Parse one IDX file (``.gz`` or plain) into a native-endian numpy array.

    The layout: two zero bytes, a type code (08 ubyte, 09 byte, 0B int16, 0C int32,
    0D float32, 0E float64), the number of dimensions ``D``, ``D`` big-endian uint32 sizes,
    then exactly ``prod(sizes)`` big-endian items.

    Args:
        path: the IDX file.
        ndim: the number of dimensions the caller expects (``None``: any).

    Returns:
        An array of shape ``sizes`` in the file's dtype, native byte order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: corrupt gzip, bad magic number, a dimension count other than ``ndim``,
            truncated header, or data shorter or longer than the header's sizes say.
    """
    raw = read_bytes(path, "IDX file")
    if len(raw) < 4:
        raise ValueError(f"IDX file {path}: truncated header, {len(raw)} bytes (need 4 or more)")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        codes = ", ".join(f"{c:02x}" for c in IDX_DTYPES)
        raise ValueError(
            f"IDX file {path}: bad magic number 0x{magic:08x}; expected 0x0000TTDD with "
            f"type code TT in ({codes}) and DD dimensions"
        )
    dtype, dims_count = IDX_DTYPES[raw[2]], raw[3]
    if ndim is not None and dims_count != ndim:
        raise ValueError(
            f"IDX file {path}: expected {ndim} dimension(s), the header says {dims_count}"
        )
    offset = 4 + 4 * dims_count
    if len(raw) < offset:
        raise ValueError(
            f"IDX file {path}: truncated header, {len(raw)} bytes but {dims_count} "
            f"dimensions need {offset}"
        )
    sizes = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims_count))
    count = math.prod(sizes)
    expected, found = count * dtype.itemsize, len(raw) - offset
    if found != expected:
        kind = "truncated" if found < expected else "over-long"
        raise ValueError(
            f"IDX file {path}: data is {kind}: sizes {sizes} of {dtype.itemsize}-byte items "
            f"need {expected} bytes after the {offset}-byte header, found {found}"
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(sizes)
    return array.astype(dtype.newbyteorder("="))


def read_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    num_classes: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read an IDX image file and its label file, checked against each other.

    Args:
        images_path: IDX file of unsigned bytes, shape ``(N, H, W)``.
        labels_path: IDX file of integers, shape ``(N,)``.
        num_classes: labels must lie in ``[0, num_classes)``; ``None``: only ``>= 0``.

    Returns:
        ``images`` uint8 ``(N, H, W, 1)`` and ``labels`` int64 ``(N,)``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: any problem :func:`read_idx` finds, images that are not unsigned bytes,
            labels that are not integers, no examples, mismatched counts, labels out of range.
    """
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.dtype != np.uint8:
        raise ValueError(
            f"IDX file {images_path}: images must be unsigned bytes (type code 08), "
            f"got {images.dtype}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"IDX file {labels_path}: labels must be integers, got {labels.dtype}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"IDX files {images_path} and {labels_path}: {images.shape[0]} images "
            f"but {labels.shape[0]} labels"
        )
    if images.shape[0] == 0 or min(images.shape[1:]) == 0:
        raise ValueError(f"IDX file {images_path}: holds no image data, shape {images.shape}")
    check_labels(labels.astype(np.int64), num_classes, f"IDX file {labels_path}")
    return images[..., None], labels.astype(np.int64)


def check_labels(labels: np.ndarray, num_classes: int | None, where: str) -> None:
    """Raise a ``ValueError`` naming ``where`` and the first label outside ``[0, num_classes)``."""
    high = np.inf if num_classes is None else num_classes
    bad = np.flatnonzero((labels < 0) | (labels >= high))
    if bad.size:
        i = int(bad[0])
        allowed = ">= 0" if num_classes is None else f"in [0, {num_classes})"
        raise ValueError(
            f"{where}: label {int(labels[i])} at index {i} is out of range; labels must be "
            f"{allowed} ({bad.size} bad label(s) in all)"
        )


def read_cifar10_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parse one file of the *binary* CIFAR-10 release (``data_batch_1.bin``, ...).

    Each record is 3073 bytes: the label (0-9), then 1024 red, 1024 green and 1024 blue
    bytes of a 32x32 image, rows first. The released files hold 10,000 records; any whole
    number of records (at least one) is accepted, so a size that is not a multiple of 3073
    is reported as truncated or over-long.

    Returns:
        ``images`` uint8 ``(N, 32, 32, 3)`` (NHWC) and ``labels`` int64 ``(N,)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: corrupt gzip, an empty file, a size that is not a whole number of
            records, or a label outside ``[0, 10)``.
    """
    raw = read_bytes(path, "CIFAR-10 file")
    if len(raw) == 0 or len(raw) % CIFAR10_RECORD:
        records, extra = divmod(len(raw), CIFAR10_RECORD)
        raise ValueError(
            f"CIFAR-10 file {path}: truncated or over-long: {len(raw)} bytes is not a whole "
            f"number (>= 1) of {CIFAR10_RECORD}-byte records (1 label byte + 3072 image "
            f"bytes); {records} record(s) and {extra} bytes left over"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    check_labels(labels, 10, f"CIFAR-10 file {path}")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
