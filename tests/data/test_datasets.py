"""load_dataset: each source, the splits, limit, normalisation, options, the real MNIST set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cnnjax.data import DATASETS, Dataset, channel_stats, load_dataset, read_idx

MNIST_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def _rows(images, labels):
    """Examples as sortable byte strings, for multiset comparisons."""
    return sorted(bytes([int(y)]) + x.tobytes() for x, y in zip(images, labels, strict=True))


# --- digits -------------------------------------------------------------------------------


def test_digits_split_sizes_and_strata():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits" and ds.num_classes == 10
    assert ds.input_shape == (8, 8, 1)
    assert len(ds.test_labels) == int(np.floor(1797 * 0.2 + 0.5))
    assert len(ds.train_labels) + len(ds.test_labels) == 1797
    counts = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(ds.test_labels, minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * counts) < 1), test_counts


def test_digits_split_is_a_partition_of_the_bundled_set():
    ds = load_dataset("digits", normalize="none", test_fraction=0.3, split_seed=5)
    images = np.concatenate([ds.train_images, ds.test_images]) * 16  # back to 0..16 values
    labels = np.concatenate([ds.train_labels, ds.test_labels])
    bunch = load_digits()
    want = _rows(bunch.images[..., None].astype(np.float32), bunch.target)
    assert _rows(np.round(images).astype(np.float32), labels) == want
    assert len(ds.test_labels) == int(np.floor(1797 * 0.3 + 0.5))


def test_digits_split_deterministic_in_split_seed():
    a, b = load_dataset("digits", split_seed=3), load_dataset("digits", split_seed=3)
    c = load_dataset("digits", split_seed=4)
    np.testing.assert_array_equal(a.train_images, b.train_images)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert not np.array_equal(a.test_images, c.test_images)


def test_limit_keeps_first_train_examples_and_all_test():
    full = load_dataset("digits", normalize="none")
    small = load_dataset("digits", normalize="none", limit=50)
    np.testing.assert_array_equal(small.train_images, full.train_images[:50])
    np.testing.assert_array_equal(small.train_labels, full.train_labels[:50])
    np.testing.assert_array_equal(small.test_images, full.test_images)
    assert len(load_dataset("digits", limit=10**6).train_labels) == len(full.train_labels)


def test_dtypes_and_read_only():
    ds = load_dataset("digits", limit=20)
    assert ds.train_images.dtype == np.float32 and ds.test_images.dtype == np.float32
    assert ds.train_labels.dtype == np.int32 and ds.test_labels.dtype == np.int32
    with pytest.raises(ValueError, match="read-only"):
        ds.train_images[0, 0, 0, 0] = 1.0
    assert "digits" in repr(ds) and "(20, 8, 8, 1)" in repr(ds)


# --- normalisation ------------------------------------------------------------------------


def test_train_normalisation_uses_training_statistics():
    raw = load_dataset("synthetic", image_shape=(5, 4, 3), normalize="none", num_train=64)
    ds = load_dataset("synthetic", image_shape=(5, 4, 3), num_train=64)
    mean, std = channel_stats(raw.train_images)
    np.testing.assert_allclose(ds.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(ds.std, std, rtol=1e-12)
    np.testing.assert_allclose(ds.train_images.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(ds.train_images.std(axis=(0, 1, 2)), 1, rtol=1e-5)
    np.testing.assert_allclose(ds.test_images, (raw.test_images - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.normalize(raw.test_images), ds.test_images, rtol=1e-6)


def test_fixed_normalisation_reproduces_a_stored_one():
    ds = load_dataset("digits", limit=100)
    again = load_dataset("digits", normalize="fixed", mean=ds.mean, std=ds.std)
    assert again.mean == ds.mean and again.std == ds.std
    np.testing.assert_array_equal(again.test_images, ds.test_images)
    scalar = load_dataset("synthetic", image_shape=(2, 2, 3), normalize="fixed", mean=0.5, std=2.0)
    assert scalar.mean == (0.5,) * 3 and scalar.std == (2.0,) * 3


def test_none_normalisation_is_unit_scaled_pixels(mnist_folder):
    folder, arrays = mnist_folder
    ds = load_dataset("mnist", path=folder, normalize="none")
    assert ds.mean == (0.0,) and ds.std == (1.0,)
    np.testing.assert_array_equal(
        ds.train_images[..., 0], arrays["train-images-idx3-ubyte.gz"] / np.float32(255)
    )


def test_constant_channel_keeps_unit_std(tmp_path, files):
    x = files.idx(tmp_path / "x", np.full((4, 2, 2), 7, np.uint8))
    y = files.idx(tmp_path / "y", np.array([0, 1, 0, 1], np.uint8))
    ds = load_dataset("idx", images=x, labels=y, test_fraction=0.5)
    assert ds.std == (1.0,)
    np.testing.assert_array_equal(ds.train_images, 0)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"mean": 0.5, "std": 1.0}, r"apply only with normalize='fixed'"),
        ({"normalize": "fixed", "mean": 0.5}, r"needs both options `mean` and `std`"),
        ({"normalize": "fixed", "mean": (0, 0), "std": 1}, r"`mean` must have 1 or C=3"),
        ({"normalize": "fixed", "mean": 0, "std": (1, 0, 1)}, r"`std` must be positive"),
        ({"normalize": "fixed", "mean": float("nan"), "std": 1}, r"`mean` must be finite"),
    ],
)
def test_normalisation_option_errors(options, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset("synthetic", image_shape=(2, 2, 3), **options)


# --- file sources -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_folder_gz_and_plain(mnist_folder, name):
    folder, arrays = mnist_folder
    ds = load_dataset(name, path=str(folder), normalize="none")
    assert ds.name == name and ds.num_classes == 10
    assert ds.train_images.shape == (6, 5, 4, 1) and ds.test_images.shape == (3, 5, 4, 1)
    np.testing.assert_array_equal(ds.train_labels, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(
        ds.test_images[..., 0] * 255, arrays["t10k-images-idx3-ubyte"].astype(np.float32)
    )


def test_mnist_missing_file_and_folder(mnist_folder):
    folder, _ = mnist_folder
    (folder / "t10k-images-idx3-ubyte").unlink()
    pattern = r"neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz found in"
    with pytest.raises(FileNotFoundError, match=pattern):
        load_dataset("mnist", path=folder)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_dataset("mnist", path=folder / "absent")


def test_mnist_bad_label_names_the_file(mnist_folder, files):
    folder, _ = mnist_folder
    bad = files.idx(folder / "train-labels-idx1-ubyte", np.array([0, 1, 2, 3, 10, 5], np.uint8))
    with pytest.raises(ValueError, match=rf"{bad}: label 10 at index 4 is out of range"):
        load_dataset("mnist", path=folder)


def test_mnist_train_test_shape_mismatch(mnist_folder, files):
    folder, _ = mnist_folder
    files.idx(folder / "t10k-images-idx3-ubyte", np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"are \(5, 4\) but test images .* are \(4, 5\)"):
        load_dataset("mnist", path=folder)


def test_idx_source_split_and_classes(tmp_path, files):
    labels = np.arange(40, dtype=np.uint8) % 4
    x = files.idx(tmp_path / "x.gz", np.arange(40 * 9, dtype=np.uint8).reshape(40, 3, 3))
    y = files.idx(tmp_path / "y", labels)
    ds = load_dataset("idx", images=x, labels=y, test_fraction=0.25, split_seed=1)
    assert ds.num_classes == 4 and len(ds.test_labels) == 10 and len(ds.train_labels) == 30
    assert np.bincount(ds.test_labels).tolist() == [3, 3, 2, 2]  # largest remainder, ties low
    assert load_dataset("idx", images=x, labels=y, num_classes=7).num_classes == 7
    assert len(load_dataset("idx", images=x, labels=y, test_fraction=0.0).test_labels) == 0
    with pytest.raises(ValueError, match=rf"{y}: label 3 at index 3 is out of range"):
        load_dataset("idx", images=x, labels=y, num_classes=3)


def test_idx_split_leaving_no_training_data(tmp_path, files):
    x = files.idx(tmp_path / "x", np.zeros((1, 2, 2), np.uint8))
    y = files.idx(tmp_path / "y", np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="leaves no training examples out of 1"):
        load_dataset("idx", images=x, labels=y, test_fraction=0.9)


@pytest.mark.parametrize("nested", [False, True])
def test_cifar10_binary_folder(cifar_folder, nested):
    folder, train_x, train_y, test_x, test_y = cifar_folder
    if nested:
        inner = folder / "cifar-10-batches-bin"
        inner.mkdir()
        for f in folder.glob("*.bin"):
            f.rename(inner / f.name)
    ds = load_dataset("cifar10", path=folder, normalize="none", limit=7)
    assert ds.input_shape == (32, 32, 3) and ds.num_classes == 10
    np.testing.assert_array_equal(ds.train_images * 255, train_x[:7].astype(np.float32))
    np.testing.assert_array_equal(ds.train_labels, train_y[:7])
    np.testing.assert_array_equal(ds.test_images * 255, test_x.astype(np.float32))
    np.testing.assert_array_equal(ds.test_labels, test_y)


def test_cifar10_missing_and_corrupt_files(cifar_folder):
    folder = cifar_folder[0]
    (folder / "data_batch_3.bin").write_bytes(b"\x01" * 3074)
    with pytest.raises(ValueError, match=r"data_batch_3.bin: truncated or over-long: 3074"):
        load_dataset("cifar10", path=folder)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3.bin not found; .*binary release"):
        load_dataset("cifar10", path=folder)


# --- synthetic ----------------------------------------------------------------------------


def test_synthetic_is_deterministic_balanced_and_learnable():
    opts = {"image_shape": (6, 6, 2), "num_classes": 5, "num_train": 200, "num_test": 100}
    a, b = load_dataset("synthetic", seed=2, **opts), load_dataset("synthetic", seed=2, **opts)
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert not np.array_equal(
        a.train_images, load_dataset("synthetic", seed=3, **opts).train_images
    )
    assert a.train_images.shape == (200, 6, 6, 2) and a.test_images.shape == (100, 6, 6, 2)
    assert np.bincount(a.train_labels).tolist() == [40] * 5
    centroids = np.stack([a.train_images[a.train_labels == c].mean(0) for c in range(5)])
    distances = ((a.test_images[:, None] - centroids[None]) ** 2).sum(axis=(2, 3, 4))
    assert np.mean(distances.argmin(1) == a.test_labels) > 0.9


# --- options ------------------------------------------------------------------------------


def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist2'; known: digits, mnist"):
        load_dataset("mnist2")
    with pytest.raises(TypeError, match="`name` must be a string"):
        load_dataset(None)
    assert set(DATASETS) == {"digits", "mnist", "fashion_mnist", "idx", "cifar10", "synthetic"}


def test_unknown_options_named_and_known_listed():
    with pytest.raises(ValueError) as info:
        load_dataset("digits", batch=3, shufle=True)
    message = str(info.value)
    assert "unknown option(s) 'batch', 'shufle'" in message
    assert "known options: limit, mean, normalize, split_seed, std, test_fraction" in message


def test_missing_required_option():
    with pytest.raises(ValueError, match=r"missing required option\(s\) 'images', 'labels'"):
        load_dataset("idx")


@pytest.mark.parametrize(
    ("name", "options", "exc", "pattern"),
    [
        ("digits", {"limit": "5"}, TypeError, r"`limit` must be an int or None, got '5'"),
        ("digits", {"limit": True}, TypeError, r"`limit` must be an int"),
        ("digits", {"limit": 0}, ValueError, r"`limit` must be >= 1, got 0"),
        ("digits", {"test_fraction": "0.2"}, TypeError, r"`test_fraction` must be a number"),
        ("digits", {"test_fraction": 1.0}, ValueError, r"`test_fraction` must lie in \[0.0, 1"),
        ("digits", {"split_seed": -1}, ValueError, r"`split_seed` must be >= 0"),
        ("digits", {"normalize": 1}, TypeError, r"`normalize` must be a string"),
        ("digits", {"normalize": "zscore"}, ValueError, r"`normalize` must be one of"),
        ("digits", {"mean": "0.5"}, TypeError, r"`mean` must be a number or a sequence"),
        ("mnist", {"path": 3}, TypeError, r"`path` must be a path"),
        ("synthetic", {"image_shape": (8, 8)}, TypeError, r"`image_shape` must be a sequence"),
        (
            "synthetic",
            {"image_shape": (8, 0, 1)},
            ValueError,
            r"`image_shape` must have every entry >= 1",
        ),
        ("synthetic", {"noise": -0.1}, ValueError, r"`noise` must lie in"),
        ("synthetic", {"num_train": 2.0}, TypeError, r"`num_train` must be an int"),
    ],
)
def test_option_types_and_values(name, options, exc, pattern):
    with pytest.raises(exc, match=rf"load_dataset\('{name}'\): option {pattern}"):
        load_dataset(name, **options)


# --- the real MNIST test set (optional, never required) -----------------------------------


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="../shared/data/mnist is absent")
def test_real_mnist_test_set_via_idx():
    images = MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    labels = MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
    assert hashlib.md5(images.read_bytes()).hexdigest() == "9fb629c4189551a2d022fa330f9573f3"
    assert hashlib.md5(labels.read_bytes()).hexdigest() == "ec29112dd5afa0611ce80d1b7f02629c"
    ds = load_dataset("idx", images=images, labels=labels, test_fraction=0.2, split_seed=0)
    assert ds.num_classes == 10 and ds.input_shape == (28, 28, 1)
    assert len(ds.train_labels) == 8000 and len(ds.test_labels) == 2000
    # the published class counts of the MNIST test set, split 80/20 per class
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert (np.bincount(ds.train_labels) + np.bincount(ds.test_labels)).tolist() == counts
    assert np.all(np.abs(np.bincount(ds.test_labels) - 0.2 * np.array(counts)) < 1)
    assert abs(float(ds.train_images.mean())) < 1e-4
    assert abs(float(ds.train_images.std()) - 1) < 1e-4
    raw = load_dataset("idx", images=images, labels=labels, normalize="none", test_fraction=0.0)
    file_images, file_labels = read_idx(images, ndim=3), read_idx(labels, ndim=1)
    assert file_labels[0] == 7 and file_images.max() == 255  # the first test digit is a 7
    got = np.round(raw.train_images[..., 0] * 255).astype(np.uint8)
    assert _rows(got, raw.train_labels) == _rows(file_images, file_labels)  # a permutation


def test_idx_refuses_to_infer_a_class_count_with_missing_classes(tmp_path, files):
    x = files.idx(tmp_path / "x", np.zeros((6, 2, 2), np.uint8))
    y = files.idx(tmp_path / "y", np.array([0, 1, 200, 0, 1, 0], np.uint8))
    with pytest.raises(ValueError, match=r"only 3 of the 201 classes .*\(label 200 at index 2\)"):
        load_dataset("idx", images=x, labels=y)
    assert load_dataset("idx", images=x, labels=y, num_classes=201).num_classes == 201
