"""cnnjax.tasks and its hooks: the denoise data, noise and keys, what a task records and
plots, old checkpoints resuming as classifiers, and the commands that refuse a denoiser."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import cli, ops
from cnnjax.checkpoint import CheckpointError
from cnnjax.config import load_config, to_dict
from cnnjax.data import load_dataset
from cnnjax.metrics import format_epoch, plot_curves
from cnnjax.resume import check_resumable
from cnnjax.tasks import Classify, Denoise, task_of

ROOT = Path(__file__).parent.parent
DIGITS = ROOT / "experiments" / "digits_cnn.toml"
DENOISE = ROOT / "experiments" / "digits_denoise.toml"


def test_the_config_picks_the_task():
    assert task_of(load_config(DIGITS)) == Classify(label_smoothing=0.0)
    assert task_of(load_config(DIGITS, ["train.label_smoothing=0.1"])) == Classify(0.1)
    assert task_of(load_config(DENOISE)) == Denoise(noise=0.25)
    assert load_config(DIGITS).task.kind == "classify"  # no [task] table: a classifier


def test_denoise_data_are_the_raw_pixels_whatever_the_normalisation():
    raw = load_dataset("digits", normalize="none")
    for options in ({}, {"normalize": "fixed", "mean": 0.3, "std": 0.2}):
        data = Denoise().prepare(load_dataset("digits", **options))
        for split in ("train_images", "test_images"):
            np.testing.assert_allclose(getattr(data, split), getattr(raw, split), atol=1e-6)
    assert raw.train_images.min() == 0.0 and raw.train_images.max() == 1.0


def test_denoise_noise_and_keys():
    """The noise has the configured std and comes from ``fold_in(key, 1)``; the model gets
    ``fold_in(key, 0)``; classify passes the key through unchanged."""
    clean = jnp.full((64, 8, 8, 1), 0.5)
    labels = jnp.zeros(64, jnp.int32)
    key = jax.random.key(3)
    noisy, target, model_key = Denoise(noise=0.25).train_inputs(clean, labels, key)
    assert target is clean
    draw = jax.random.normal(jax.random.fold_in(key, 1), clean.shape)
    np.testing.assert_allclose(noisy - clean, 0.25 * draw, rtol=1e-6, atol=1e-7)
    assert abs(float(jnp.std(noisy - clean)) - 0.25) < 0.01
    assert jnp.array_equal(
        jax.random.key_data(model_key), jax.random.key_data(jax.random.fold_in(key, 0))
    )
    assert Classify().train_inputs(clean, labels, key) == (clean, labels, key)
    silent, _, _ = Denoise(noise=0.0).train_inputs(clean, labels, key)
    assert jnp.array_equal(silent, clean)  # noise 0: a plain autoencoder


def test_denoise_test_noise_is_fixed():
    data = Denoise().prepare(load_dataset("digits"))
    noisy, clean = Denoise(noise=0.25).test_arrays(data)
    again, _ = Denoise(noise=0.25).test_arrays(data)
    assert isinstance(noisy, np.ndarray) and np.array_equal(noisy, again)
    assert np.array_equal(clean, data.test_images) and not np.array_equal(noisy, clean)
    baseline = Denoise(noise=0.25).baseline(data)["noisy_mse"]
    assert baseline == pytest.approx(float(jnp.mean(ops.mse_loss(noisy, clean))), rel=1e-6)


def test_what_each_task_records_and_summarises():
    assert Classify().record(0.5, 0.9, "test") == {"test_loss": 0.5, "test_accuracy": 0.9}
    assert Denoise().record(0.02, 0.02, "train") == {"train_loss": 0.02}
    assert Denoise().record(0.03, 0.03, "test") == {"test_mse": 0.03}
    history = [
        {"epoch": e, "epochs": 3, "train_loss": t, "test_mse": m, "images_per_second": 900.0}
        for e, t, m in [(1, 0.08, 0.03), (2, 0.03, 0.02), (3, 0.025, 0.021)]
    ]
    summary = Denoise().summary(history)
    assert summary == {"test_mse": 0.021, "train_loss": 0.025, "best_test_mse": 0.02}
    assert format_epoch(history[0]) == "epoch 1/3  train_loss 0.0800  test_mse 0.0300  900 img/s"
    score = Classify().score(ops, jnp.array([[0.0, 1.0], [2.0, 1.0]]), jnp.array([1, 1]))
    assert score.tolist() == [1.0, 0.0]


def test_curves_of_a_denoiser_plot_what_exists(tmp_path):
    history = [{"epoch": e, "train_loss": 0.1 / e, "test_mse": 0.05 / e} for e in range(1, 4)]
    plot_curves(tmp_path / "c.png", history, "t", baselines={"noisy mse": 0.06})
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_a_checkpoint_from_before_tasks_resumes_as_a_classifier(tmp_path):
    config = load_config(DIGITS)
    old = {k: v for k, v in to_dict(config).items() if k != "task"}
    meta = {"epoch": 1, "history": [{}], "config": old}
    check_resumable(tmp_path / "c.npz", meta, config)  # no error: same settings
    denoise = load_config(DIGITS, ["task.kind=denoise", "model.name=digits_autoencoder"])
    with pytest.raises(CheckpointError, match="`task.kind` was 'classify' and is now 'denoise'"):
        check_resumable(tmp_path / "c.npz", meta, denoise)


def test_trace_refuses_a_denoiser_naming_the_key(capsys):
    assert cli.main(["trace", str(DENOISE)]) == 1
    err = capsys.readouterr().err
    assert "`task.kind`" in err and "does not trace task.kind = 'denoise'" in err
