"""The denoising experiment, ``experiments/digits_denoise.toml``: the U-Net trains through
``cnnjax train`` with the run guarantees of a classifier (resume, eval, the files), and its
hand-VJP losses equal the autodiff ones over the first steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnjax import cli
from cnnjax.config import load_config
from cnnjax.evaluation import evaluate_checkpoint
from cnnjax.metrics import TIMING_FIELDS, read_metrics
from cnnjax.train import train_and_evaluate
from tests._first_steps import first_step_losses

ROOT = Path(__file__).parent.parent
DENOISE = ROOT / "experiments" / "digits_denoise.toml"
# 3 epochs of 8 steps on the first 128 real training digits (the full 359-image test split).
TINY = ["data.options.limit=128", "train.batch_size=16", "train.epochs=3"]
METRIC_KEYS = {"epoch", "epochs", "train_loss", "test_mse", "steps", *TIMING_FIELDS}


class _Stop(Exception):
    pass


def _stop_after_2(epoch, record):
    if epoch == 2:  # the checkpoint of epoch 2 is on disk
        raise _Stop


def timeless(records):
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def test_denoise_run_files_resume_and_eval(tmp_path, capsys, monkeypatch):
    """Through the CLI: MSE metrics, no accuracy keys, both pictures, ``test_mse=`` last.
    Interrupted after epoch 2 and resumed: exactly the uninterrupted metrics. ``cnnjax
    eval`` of the checkpoint: the run's test MSE and noisy baseline."""
    monkeypatch.setenv("CNNJAX_FAST_CONV", "0")  # leave this process's XLA flags alone
    ref = tmp_path / "ref"
    argv = ["train", str(DENOISE), "--out", str(ref)]
    for item in TINY:
        argv += ["--set", item]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch 1/3  train_loss ") and "  test_mse " in out[0]
    assert "acc" not in out[0]
    records = read_metrics(ref / "metrics.jsonl")
    assert [set(r) for r in records] == [METRIC_KEYS] * 3
    summary = json.loads((ref / "summary.json").read_text())
    assert out[-1] == f"test_mse={summary['test_mse']:.4f}"
    assert summary["test_mse"] == records[-1]["test_mse"]
    assert summary["best_test_mse"] == min(r["test_mse"] for r in records)
    assert not any("accuracy" in k for k in summary)
    # Noise of std 0.25, not clipped: the noisy input's MSE is 0.25**2 within 5 standard
    # errors of the mean over the 359 * 64 pixels (0.0625 * sqrt(2 / 22976) each).
    assert abs(summary["noisy_mse"] - 0.0625) < 5 * 0.0625 * (2 / 22976) ** 0.5
    assert records[-1]["test_mse"] < 0.6 * summary["noisy_mse"]
    for png in ("curves.png", "denoise.png"):
        assert (ref / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = load_config(DENOISE, TINY)
    run = tmp_path / "run"
    with pytest.raises(_Stop):
        train_and_evaluate(config, run, verbose=False, on_epoch_end=_stop_after_2)
    assert len(read_metrics(run / "metrics.jsonl")) == 2 and not (run / "denoise.png").exists()
    resumed = train_and_evaluate(config, run, resume=True, verbose=False)
    assert timeless(read_metrics(run / "metrics.jsonl")) == timeless(records)
    assert resumed["test_mse"] == summary["test_mse"]
    assert (run / "denoise.png").exists()

    argv = ["eval", str(DENOISE), "--checkpoint", str(run / "checkpoint.npz")]
    assert cli.main([*argv, "--set", TINY[0]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"test_mse={summary['test_mse']:.4f}"
    assert f"MSE {summary['noisy_mse']:.4f} of the noisy input" in out[0]
    # Another eval batch size: the same noisy test images, so the same MSE.
    config7 = load_config(DENOISE, [*TINY, "train.eval_batch_size=7"])
    result = evaluate_checkpoint(config7, run / "checkpoint.npz")
    assert result["test_mse"] == pytest.approx(summary["test_mse"], rel=1e-6)
    assert result["noisy_mse"] == summary["noisy_mse"]


def test_hand_and_autodiff_denoise_losses_agree_over_the_first_steps():
    """The same 8 steps of the shipped config on the real digits with ``grad="hand"`` and
    ``grad="autodiff"``: the losses agree to float32 round-off (accumulated over 8 Adam
    steps, hence a relative 1e-4; a wrong gradient anywhere is off by far more)."""
    (hand, hand_mse), (auto, _) = (
        first_step_losses(DENOISE, [f"train.grad={g}"], 8) for g in ("hand", "autodiff")
    )
    np.testing.assert_array_equal(hand_mse, hand)  # the denoise metric is the loss itself
    assert hand.shape == (8,) and hand[-3:].mean() < 0.8 * hand[:3].mean()  # it learns
    np.testing.assert_allclose(hand, auto, rtol=1e-4, atol=0)
