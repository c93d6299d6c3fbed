"""The IDX and binary CIFAR-10 readers: round trips and every corrupt-file message."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from cnnjax.data import read_cifar10_batch, read_idx, read_idx_pair


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip(tmp_path, files, name, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    if np.dtype(dtype) == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    got = read_idx(files.idx(tmp_path / name, array), ndim=3)
    assert got.shape == (2, 3, 4)
    assert got.dtype.isnative and got.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(got, array)


def test_gzip_recognised_by_magic_without_gz_name(tmp_path, files):
    labels = np.array([5, 0, 4], np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(files.idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(path, ndim=1), labels)


def _expect(exc, path, pattern, call):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert str(path) in message, message
    assert re.search(pattern, message), message
    # raised from our own checks: no chained traceback from gzip/zlib/numpy
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope-idx3-ubyte.gz"
    _expect(FileNotFoundError, path, "no such file", lambda: read_idx(path))


def test_directory_instead_of_file(tmp_path):
    _expect(ValueError, tmp_path, "is a directory", lambda: read_idx(tmp_path))


LABELS = np.array([1, 2, 3], np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda b: b"\x08\x03" + b[2:], r"bad magic number 0x0803"),  # sizes where magic is
        (lambda b: b[:2] + b"\x07" + b[3:], r"bad magic number 0x00000701"),  # unknown type
        (lambda b: b[:3] + b"\x02" + b[4:], r"expected 1 dimension\(s\), the header says 2"),
        (lambda b: b[:2], r"truncated header, 2 bytes"),
        (lambda b: b[:6], r"truncated header, 6 bytes but 1 dimensions need 8"),
        (lambda b: b[:-1], r"data is truncated: sizes \(3,\) .* need 3 bytes .* found 2"),
        (lambda b: b + b"\x00\x00", r"data is over-long: sizes \(3,\) .* found 5"),
        (lambda b: b"", r"truncated header, 0 bytes"),
    ],
)
def test_idx_corruption(tmp_path, files, gz, mutate, pattern):
    path = files.write(tmp_path / ("x.gz" if gz else "x"), mutate(files.idx_bytes(LABELS)))
    _expect(ValueError, path, pattern, lambda: read_idx(path, ndim=1))


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda z: z[: len(z) // 2], r"corrupt gzip data .*end-of-stream"),  # truncated stream
        (lambda z: z[:-8] + bytes(b ^ 0xFF for b in z[-8:-4]) + z[-4:], r"corrupt gzip.*CRC"),
        (lambda z: b"\x1f\x8b\x08garbage" + z[11:], r"corrupt gzip data"),
    ],
)
def test_corrupt_gzip(tmp_path, files, mutate, pattern):
    path = tmp_path / "labels.gz"
    path.write_bytes(mutate(gzip.compress(files.idx_bytes(np.arange(200, dtype=np.uint8)))))
    _expect(ValueError, path, pattern, lambda: read_idx(path, ndim=1))


def test_gz_name_on_plain_bytes_is_a_gzip_error(tmp_path, files):
    path = tmp_path / "labels.gz"
    path.write_bytes(files.idx_bytes(LABELS))
    _expect(ValueError, path, r"corrupt gzip data", lambda: read_idx(path, ndim=1))


def test_idx_pair_reads_and_adds_channel(tmp_path, files):
    images = np.arange(3 * 4 * 2, dtype=np.uint8).reshape(3, 4, 2)
    x = files.idx(tmp_path / "x.gz", images)
    y = files.idx(tmp_path / "y", LABELS)
    got_x, got_y = read_idx_pair(x, y, num_classes=4)
    assert got_x.shape == (3, 4, 2, 1)
    np.testing.assert_array_equal(got_x[..., 0], images)
    np.testing.assert_array_equal(got_y, LABELS)


@pytest.mark.parametrize(
    ("images", "labels", "num_classes", "bad", "pattern"),
    [
        (np.zeros((4, 2, 2), np.uint8), LABELS, 10, "both", r"4 images but 3 labels"),
        (np.zeros((3, 2, 2), np.uint8), LABELS, 3, "y", r"label 3 at index 2 is out of range"),
        (np.zeros((3, 2, 2), ">f4"), LABELS, 10, "x", r"must be unsigned bytes.*float32"),
        (np.zeros((3, 2, 2), np.uint8), LABELS.astype(">f8"), 10, "y", r"must be integers"),
        (np.zeros((0, 2, 2), np.uint8), LABELS[:0], 10, "x", r"holds no image data"),
        (np.zeros((3, 2), np.uint8), LABELS, 10, "x", r"expected 3 dimension\(s\), .* says 2"),
        (np.zeros((3, 2, 2), np.uint8), LABELS[:, None], 10, "y", r"expected 1 dim"),
    ],
)
def test_idx_pair_errors(tmp_path, files, images, labels, num_classes, bad, pattern):
    x = files.idx(tmp_path / "images", images)
    y = files.idx(tmp_path / "labels", labels)
    named = {"x": x, "y": y, "both": x}[bad]
    message = _expect(
        ValueError, named, pattern, lambda: read_idx_pair(x, y, num_classes=num_classes)
    )
    if bad == "both":
        assert str(y) in message


def test_negative_labels_rejected_without_num_classes(tmp_path, files):
    x = files.idx(tmp_path / "images", np.zeros((3, 2, 2), np.uint8))
    y = files.idx(tmp_path / "labels", np.array([0, -2, 1], np.int8))
    _expect(
        ValueError,
        y,
        r"label -2 at index 1 .* must be >= 0",
        lambda: read_idx_pair(x, y, num_classes=None),
    )


def test_cifar_round_trip_chw_to_hwc(tmp_path, files):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 9, 4])
    path = files.write(tmp_path / "data_batch_1.bin", files.cifar_bytes(images, labels))
    raw = path.read_bytes()
    assert raw[1 : 1 + 1024] == images[0, :, :, 0].tobytes()  # red plane first, rows first
    got_images, got_labels = read_cifar10_batch(path)
    assert got_images.shape == (3, 32, 32, 3) and got_images.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda b: b[:-1], r"6145 bytes is not a whole number .* 1 record\(s\) and 3072 bytes"),
        (lambda b: b + b"\x00" * 5, r"6151 bytes .* 2 record\(s\) and 5 bytes left over"),
        (lambda b: b"", r"truncated or over-long: 0 bytes"),
        (lambda b: b[:3073] + b"\x0a" + b[3074:], r"label 10 at index 1 is out of range"),
    ],
)
def test_cifar_corruption(tmp_path, files, mutate, pattern):
    records = files.cifar_bytes(np.zeros((2, 32, 32, 3), np.uint8), np.array([1, 2]))
    path = files.write(tmp_path / "data_batch_1.bin", mutate(records))
    _expect(ValueError, path, pattern, lambda: read_cifar10_batch(path))


def test_cifar_missing_file(tmp_path):
    path = tmp_path / "test_batch.bin"
    _expect(FileNotFoundError, path, "no such file", lambda: read_cifar10_batch(path))
