"""epoch_batches, num_batches and crop_flip: determinism, coverage, drop_last, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from cnnjax.data import crop_flip, epoch_batches, num_batches


def _data(n=23, h=5, w=6, c=2):
    """Images whose every pixel holds the example's index, so batches can be traced back."""
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, h, w, c))
    return np.ascontiguousarray(images), np.arange(n) % 7


def _labels_of(batches):
    return [labels.tolist() for _, labels in batches]


@pytest.mark.parametrize(
    ("n", "bs", "drop", "want"),
    [
        (23, 5, True, 4),
        (23, 5, False, 5),
        (20, 5, False, 4),
        (3, 5, True, 0),
        (0, 5, False, 0),
        (3, 5, False, 1),
    ],
)
def test_num_batches(n, bs, drop, want):
    assert num_batches(n, bs, drop) == want
    images, labels = _data(n)
    assert len(list(epoch_batches(images, labels, bs, seed=0, epoch=0, drop_last=drop))) == want


def test_num_batches_errors():
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        num_batches(10, 0)
    with pytest.raises(TypeError, match="`n` must be an int, got 2.5"):
        num_batches(2.5, 1)


@pytest.mark.parametrize("drop_last", [True, False])
def test_coverage_and_pairing(drop_last):
    images, labels = _data()
    seen = []
    for batch_images, batch_labels in epoch_batches(
        images, labels, 5, seed=1, epoch=2, drop_last=drop_last
    ):
        index = batch_images[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(batch_images, images[index])
        np.testing.assert_array_equal(batch_labels, labels[index])
        assert batch_labels.dtype == np.int32 and batch_images.dtype == np.float32
        assert len(index) == 5 or not drop_last
        seen.extend(index.tolist())
    assert len(seen) == len(set(seen)) == (20 if drop_last else 23)


def test_deterministic_in_seed_and_epoch():
    images, labels = _data()

    def order(seed, epoch):
        batches = epoch_batches(images, labels, 4, seed=seed, epoch=epoch)
        return [b[:, 0, 0, 0].tolist() for b, _ in batches]

    assert order(3, 5) == order(3, 5)
    assert order(3, 5) != order(3, 6)
    assert order(3, 5) != order(4, 5)
    assert order(3, 5) != sorted(order(3, 5))  # shuffled
    unshuffled = epoch_batches(images, labels, 4, seed=3, epoch=5, shuffle=False)
    assert [b[:, 0, 0, 0].tolist() for b, _ in unshuffled] == [
        list(range(i, i + 4)) for i in range(0, 20, 4)
    ]


def test_batches_are_copies():
    images, labels = _data()
    first, first_labels = next(epoch_batches(images, labels, 4, seed=0, epoch=0))
    first += 100.0
    first_labels += 100
    assert images.max() == 22 and labels.max() == 6


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"labels": np.arange(22)}, ValueError, r"must share N, got shapes \(23, 5, 6, 2\)"),
        ({"labels": np.zeros((23, 1))}, ValueError, r"must share N"),
        ({"seed": -1}, ValueError, r"`seed` must be >= 0, got -1"),
        ({"epoch": 1.0}, TypeError, r"`epoch` must be an int, got 1.0"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be >= 1"),
        ({"augment": "flip"}, ValueError, r"`augment` must be None, one of .*'flip'"),
        ({"images": np.zeros((23, 4)), "augment": "crop_flip"}, ValueError, r"needs \(N, H, W"),
    ],
)
def test_arguments_checked_at_the_call(kwargs, exc, pattern):
    images, labels = _data()
    call = {"images": images, "labels": labels, "batch_size": 4, "seed": 0, "epoch": 0}
    call.update(kwargs)
    with pytest.raises(exc, match=pattern):
        epoch_batches(**call)  # no iteration: the error comes from the call itself


@pytest.mark.parametrize("augment", ["crop_flip", "crop_flip_reflect"])
def test_augmentation_seeded_and_leaves_order_alone(augment):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((16, 8, 8, 3)).astype(np.float32)
    labels = np.arange(16)

    def run(seed, epoch, aug):
        return list(epoch_batches(images, labels, 4, seed=seed, epoch=epoch, augment=aug))

    a, b, plain = run(1, 0, augment), run(1, 0, augment), run(1, 0, None)
    assert _labels_of(a) == _labels_of(plain)
    for (xa, _), (xb, _), (xp, _) in zip(a, b, plain, strict=True):
        assert xa.shape == xp.shape == (4, 8, 8, 3) and xa.dtype == np.float32
        np.testing.assert_array_equal(xa, xb)
    assert not all(np.array_equal(xa, xp) for (xa, _), (xp, _) in zip(a, plain, strict=True))
    later = run(1, 1, augment)
    same_order = run(1, 1, None)
    assert not all(np.array_equal(x, y) for (x, _), (y, _) in zip(later, same_order, strict=True))


def _windows(image, pad, mode):
    """Every crop of the padded image and of its mirror image."""
    padded = np.pad(
        image, ((pad, pad), (pad, pad), (0, 0)), mode="constant" if mode == "zero" else "reflect"
    )
    h, w = image.shape[:2]
    crops = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[dy : dy + h, dx : dx + w]
            crops += [crop, crop[:, ::-1]]
    return crops


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_crop_flip_outputs_are_crops_of_the_padded_image(mode):
    images = np.random.default_rng(1).uniform(1, 2, size=(6, 5, 7, 2))
    out = crop_flip(images, np.random.default_rng(2), pad=2, mode=mode)
    assert out.shape == images.shape and out.dtype == images.dtype
    for image, got in zip(images, out, strict=True):
        assert any(np.array_equal(got, crop) for crop in _windows(image, 2, mode))


def test_crop_flip_pad_zero_is_identity_or_mirror_about_half_the_time():
    images = np.random.default_rng(3).standard_normal((400, 3, 4, 1))
    out = crop_flip(images, np.random.default_rng(4), pad=0)
    flipped = np.array([np.array_equal(o, x[:, ::-1]) for o, x in zip(out, images, strict=True)])
    same = np.array([np.array_equal(o, x) for o, x in zip(out, images, strict=True)])
    assert np.all(flipped ^ same)
    assert 140 < flipped.sum() < 260


def test_crop_flip_shifts_vary_and_zero_padding_shows():
    images = np.ones((200, 8, 8, 1))
    out = crop_flip(images, np.random.default_rng(5))  # pad 4, zeros
    zero_rows = (out[..., 0] == 0).all(axis=2).sum(axis=1)  # all-zero rows per image
    assert set(np.unique(zero_rows)) == set(range(5))  # vertical shifts 0..4 rows all occur


def test_callable_augment_gets_a_seeded_generator():
    images, labels = _data(8)
    draws = []

    def augment(batch, rng):
        draws.append(rng.integers(1 << 30))
        return batch * 0

    first = list(epoch_batches(images, labels, 4, seed=0, epoch=0, augment=augment))
    list(epoch_batches(images, labels, 4, seed=0, epoch=0, augment=augment))
    assert draws[:2] == draws[2:] and draws[0] != draws[1]
    assert all(np.all(x == 0) for x, _ in first)


def test_crop_flip_errors():
    with pytest.raises(ValueError, match=r"rank 4 \(B, H, W, C\), got \(2, 3\)"):
        crop_flip(np.zeros((2, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="`mode` must be 'zero' or 'reflect'"):
        crop_flip(np.zeros((1, 2, 2, 1)), np.random.default_rng(0), mode="wrap")
    with pytest.raises(ValueError, match="`pad` must be an int >= 0, got -1"):
        crop_flip(np.zeros((1, 2, 2, 1)), np.random.default_rng(0), pad=-1)
