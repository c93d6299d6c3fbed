"""Writers of tiny IDX and binary CIFAR-10 files, shared by the data tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array`` (its dtype must be one IDX knows, any byte order)."""
    big = np.asarray(array).astype(np.asarray(array).dtype.newbyteorder(">"))
    header = bytes([0, 0, _CODES[big.dtype], big.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in big.shape)
    return header + big.tobytes()


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, gzipped when the name ends in ``.gz``."""
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Binary CIFAR-10 records for uint8 ``images`` (N, 32, 32, 3) and ``labels`` (N,)."""
    chw = images.transpose(0, 3, 1, 2).reshape(len(labels), -1)
    return np.concatenate([np.asarray(labels, np.uint8)[:, None], chw], axis=1).tobytes()


class Writers:
    idx_bytes = staticmethod(idx_bytes)
    write = staticmethod(write)
    cifar_bytes = staticmethod(cifar_bytes)

    @staticmethod
    def idx(path: Path, array: np.ndarray) -> Path:
        return write(path, idx_bytes(array))


@pytest.fixture
def files() -> type[Writers]:
    return Writers


def tiny_images(n: int, h: int, w: int, c: int | None = None, seed: int = 0) -> np.ndarray:
    shape = (n, h, w) if c is None else (n, h, w, c)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def mnist_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder with the four MNIST files (two gzipped, two plain) and their contents."""
    arrays = {
        "train-images-idx3-ubyte.gz": tiny_images(6, 5, 4, seed=1),
        "train-labels-idx1-ubyte": np.array([3, 1, 4, 1, 5, 9], np.uint8),
        "t10k-images-idx3-ubyte": tiny_images(3, 5, 4, seed=2),
        "t10k-labels-idx1-ubyte.gz": np.array([2, 7, 0], np.uint8),
    }
    for name, array in arrays.items():
        Writers.idx(tmp_path / name, array)
    return tmp_path, arrays


@pytest.fixture
def cifar_folder(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Six binary CIFAR-10 files with 2 records each; returns the folder and the data."""
    train_x, test_x = tiny_images(10, 32, 32, 3, seed=3), tiny_images(2, 32, 32, 3, seed=4)
    train_y, test_y = np.arange(10) % 10, np.array([9, 0])
    for i in range(5):
        part = slice(2 * i, 2 * i + 2)
        write(tmp_path / f"data_batch_{i + 1}.bin", cifar_bytes(train_x[part], train_y[part]))
    write(tmp_path / "test_batch.bin", cifar_bytes(test_x, test_y))
    return tmp_path, train_x, train_y, test_x, test_y
