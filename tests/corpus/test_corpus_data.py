"""Bad-input corpus, data files and options: each case fails with a message naming the file
or option and what is wrong (or is rightly accepted); one goes through ``cnnjax train``."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from cnnjax.data import load_dataset
from tests.corpus._outcome import Case, check, run_call, run_case

ROOT = Path(__file__).resolve().parents[2]
V, T, F = ValueError, TypeError, FileNotFoundError


def idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array (or int32 with ``>i4``)."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, code[array.dtype], array.ndim])
    return header + b"".join(int(s).to_bytes(4, "big") for s in array.shape) + array.tobytes()


IMAGES = idx(np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4))
LABELS = idx(np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.uint8))
NINE = idx(np.array([0, 1, 2] * 3, np.uint8))
GAPPY = idx(np.array([0, 1, 200, 0, 1, 0, 1, 0, 1, 0], np.uint8))

# (id, images bytes, labels bytes, extra options, error, fragment)
IDX_CASES = [
    ("ok", IMAGES, LABELS, {}, None, ""),
    ("label-200-inferred", IMAGES, GAPPY, {}, V, "pass the option `num_classes`"),
    ("label-200-given", IMAGES, GAPPY, {"num_classes": 10}, V, "label 200 at index 2"),
    ("label-200-declared", IMAGES, GAPPY, {"num_classes": 201}, None, ""),
    ("bad-magic", b"\x01\x02" + IMAGES[2:], LABELS, {}, V, "bad magic number"),
    ("truncated-data", IMAGES[:-5], LABELS, {}, V, "truncated"),
    ("over-long-data", IMAGES + b"xx", LABELS, {}, V, "over-long"),
    ("truncated-header", IMAGES[:6], LABELS, {}, V, "truncated header"),
    ("empty-file", b"", LABELS, {}, V, "truncated header"),
    ("count-mismatch", IMAGES, NINE, {}, V, "10 images but 9 labels"),
    ("labels-2d", IMAGES, IMAGES, {}, V, "dimension"),
    ("images-1d", LABELS, LABELS, {}, V, "dimension"),
    ("images-float", idx(np.ones((10, 4, 4), ">f4")), LABELS, {}, V, "unsigned bytes"),
    ("labels-float", IMAGES, idx(np.ones(10, ">f4")), {}, V, "integers"),
    ("corrupt-gzip", b"\x1f\x8b" + b"garbage", LABELS, {}, V, "corrupt gzip"),
    ("gzip-ok", gzip.compress(IMAGES), LABELS, {}, None, ""),
    ("test-fraction-1", IMAGES, LABELS, {"test_fraction": 1.0}, V, "`test_fraction`"),
    ("num-classes-0", IMAGES, LABELS, {"num_classes": 0}, V, "`num_classes`"),
    ("num-classes-string", IMAGES, LABELS, {"num_classes": "3"}, T, "`num_classes`"),
]


@pytest.mark.parametrize(
    "images, labels, options, error, fragment",
    [c[1:] for c in IDX_CASES],
    ids=[c[0] for c in IDX_CASES],
)
def test_idx(tmp_path, images, labels, options, error, fragment):
    (tmp_path / "x.idx").write_bytes(images)
    (tmp_path / "y.idx").write_bytes(labels)
    opts = {"images": tmp_path / "x.idx", "labels": tmp_path / "y.idx", **options}
    check(run_call(lambda: load_dataset("idx", **opts), error, fragment))


CIFAR_RECORD = 3073


def _cifar(tmp_path: Path, test_bytes: bytes) -> Path:
    record = bytes([3]) + bytes(3072)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}.bin").write_bytes(record * 2)
    (tmp_path / "test_batch.bin").write_bytes(test_bytes)
    return tmp_path


@pytest.mark.parametrize(
    "test_bytes, error, fragment",
    [
        (bytes([1]) + bytes(3072), None, ""),
        (bytes([1]) + bytes(3000), V, "truncated or over-long"),
        (b"", V, "truncated or over-long"),
        (bytes([10]) + bytes(3072), V, "label 10"),
    ],
    ids=["ok", "truncated", "empty", "label-10"],
)
def test_cifar10(tmp_path, test_bytes, error, fragment):
    folder = _cifar(tmp_path, test_bytes)
    result = run_call(lambda: load_dataset("cifar10", path=folder), error, fragment)
    check(result)


def test_cifar10_missing_file(tmp_path):
    folder = _cifar(tmp_path, bytes([1]) + bytes(3072))
    (folder / "data_batch_3.bin").unlink()
    result = run_call(lambda: load_dataset("cifar10", path=folder), F, "data_batch_3.bin")
    check(result)


# (id, data set, options, error, fragment): failures before or without reading a file
OPTION_CASES = [
    ("unknown-name", "mnits", {}, V, "unknown data set 'mnits'"),
    ("name-not-string", 3, {}, T, "`name`"),
    ("unknown-option", "digits", {"limt": 5}, V, "unknown option(s) 'limt'"),
    ("missing-path", "mnist", {}, V, "missing required option(s) 'path'"),
    ("path-not-folder", "mnist", {"path": "/nonexistent/mnist"}, F, "is not a folder"),
    ("path-number", "mnist", {"path": 5}, T, "`path`"),
    ("limit-0", "digits", {"limit": 0}, V, "`limit` must be >= 1"),
    ("limit-float", "digits", {"limit": 2.5}, T, "`limit`"),
    ("split-seed-negative", "digits", {"split_seed": -1}, V, "`split_seed`"),
    ("normalize-typo", "digits", {"normalize": "train_set"}, V, "`normalize`"),
    ("fixed-without-mean", "digits", {"normalize": "fixed", "std": 1.0}, V, "needs both"),
    ("fixed-std-zero", "digits", {"normalize": "fixed", "mean": 0.0, "std": 0.0}, V, "positive"),
    ("mean-without-fixed", "digits", {"mean": 0.5}, V, "only with normalize='fixed'"),
    ("synthetic-shape-2d", "synthetic", {"image_shape": (4, 4)}, T, "`image_shape`"),
    ("synthetic-shape-zero", "synthetic", {"image_shape": (4, 0, 1)}, V, "`image_shape`"),
    ("synthetic-noise-negative", "synthetic", {"noise": -1.0}, V, "`noise`"),
    ("digits-limit-ok", "digits", {"limit": 50}, None, ""),
]


@pytest.mark.parametrize(
    "name, options, error, fragment",
    [c[1:] for c in OPTION_CASES],
    ids=[c[0] for c in OPTION_CASES],
)
def test_options(name, options, error, fragment):
    check(run_call(lambda: load_dataset(name, **options), error, fragment))


def test_mnist_folder_missing_one_file(tmp_path):
    for base in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (tmp_path / base).write_bytes(IMAGES if "images" in base else LABELS)
    result = run_call(lambda: load_dataset("mnist", path=tmp_path), F, "t10k-labels-idx1-ubyte")
    check(result)


def test_cli_typo_in_data_path(tmp_path):
    argv = ["train", str(ROOT / "experiments" / "mnist_lenet5.toml")]
    argv += ["--out", str(tmp_path / "run"), "--set", "data.options.path=typo"]
    check(run_case(Case("cli-data-path", argv, 1, "`data.options.path`")))
