"""The training run: every shipped config for a step, output files, resume after a kill,
determinism, NaN handling, checkpoints, hand-VJP vs autodiff losses, and the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnjax import cli, nn
from cnnjax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cnnjax.config import ConfigError, load_config
from cnnjax.metrics import TIMING_FIELDS, read_metrics
from cnnjax.train import NonFiniteLossError, build_experiment, train_and_evaluate
from tests._first_steps import first_step_losses

ROOT = Path(__file__).parent.parent
# The shipped classifier configs (tests/test_denoise.py runs the denoising ones).
EXPERIMENTS = [
    p
    for p in sorted((ROOT / "experiments").glob("*.toml"))
    if load_config(p).task.kind == "classify"
]
DIGITS = ROOT / "experiments" / "digits_cnn.toml"
METRIC_KEYS = {
    "epoch",
    "epochs",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "steps",
    "compile_seconds",
    "images_per_second",
    "train_seconds",
    "epoch_seconds",
}
SUMMARY_KEYS = {
    "test_accuracy",
    "test_loss",
    "epochs",
    "total_steps",
    "compile_seconds",
    "wall_seconds",
    "images_per_second",
    "config",
}


def synthetic(shape, *, num_train, num_test, batch, epochs=1, seed=None):
    """Overrides that put a config on tiny synthetic data of the model's input shape."""
    sets = [
        'data.name="synthetic"',
        f"data.options={{image_shape={list(shape)}, num_train={num_train}, "
        f"num_test={num_test}, seed=3}}",
        f"train.batch_size={batch}",
        f"train.epochs={epochs}",
        "train.eval_batch_size=16",
    ]
    return sets + ([f"seed={seed}"] if seed is not None else [])


# Tiny runs of digits_cnn: 4 steps an epoch, 3 epochs (the schedule spans all 3 epochs).
TINY = synthetic((8, 8, 1), num_train=64, num_test=24, batch=16, epochs=3)


def timeless(records):
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_shipped_config_runs_a_step_through_the_cli(path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNJAX_FAST_CONV", "0")  # leave this process's XLA flags alone
    model = load_config(path).model.name
    # Two epochs of one step each (a warmup of one epoch needs a second one to decay over).
    sets = synthetic(nn.zoo.INPUT_SHAPES[model], num_train=2, num_test=3, batch=2, epochs=2)
    argv = ["train", str(path), "--out", str(tmp_path / "run")]
    for item in [*sets, "output.plot=true"]:
        argv += ["--set", item]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("test_accuracy=0.") or out[-1] == "test_accuracy=1.0000"
    assert len(out[-1]) == len("test_accuracy=0.0000")
    assert out[0].startswith("epoch 1/2  train_loss ") and out[1].startswith("epoch 2/2  ")
    run = tmp_path / "run"
    records = read_metrics(run / "metrics.jsonl")
    assert [(r["epoch"], r["steps"]) for r in records] == [(1, 1), (2, 1)]
    record = records[-1]
    assert set(record) == METRIC_KEYS
    assert all(np.isfinite(r[k]) for r in records for k in ("train_loss", "test_loss"))
    summary = json.loads((run / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["test_accuracy"] == record["test_accuracy"]
    assert f"test_accuracy={summary['test_accuracy']:.4f}" == out[-1]
    resolved = load_config(run / "config.toml")
    assert resolved.model.name == model and resolved.data.name == "synthetic"
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "checkpoint.npz").exists()


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted 3-epoch run of the tiny digits_cnn config."""
    out = tmp_path_factory.mktemp("reference")
    summary = train_and_evaluate(load_config(DIGITS, TINY), out, verbose=False)
    return out, summary


KILLED_RUN = """
import os, signal, sys
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
from cnnjax.config import load_config
from cnnjax.train import train_and_evaluate

def die(epoch, record):
    if epoch == 1:  # the checkpoint of epoch 1 is on disk: kill -9 before epoch 2 ends
        os.kill(os.getpid(), signal.SIGKILL)

config = load_config(sys.argv[1], sys.argv[3:])
train_and_evaluate(config, sys.argv[2], verbose=False, on_epoch_end=die)
"""


def test_resume_after_kill_ends_with_the_uninterrupted_metrics(reference_run, tmp_path):
    ref_dir, ref_summary = reference_run
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_RUN), str(DIGITS), str(out), *TINY],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(read_metrics(out / "metrics.jsonl")) == 1
    assert not (out / "summary.json").exists()
    with pytest.raises(CheckpointError, match="--resume"):  # never silently restarted
        train_and_evaluate(load_config(DIGITS, TINY), out, verbose=False)
    summary = train_and_evaluate(load_config(DIGITS, TINY), out, resume=True, verbose=False)
    expected = timeless(read_metrics(ref_dir / "metrics.jsonl"))
    assert len(expected) == 3
    assert timeless(read_metrics(out / "metrics.jsonl")) == expected
    assert summary["test_accuracy"] == ref_summary["test_accuracy"]
    assert summary["test_loss"] == ref_summary["test_loss"]


def test_same_seed_same_metrics_other_seed_other_metrics(reference_run, tmp_path):
    ref_dir, _ = reference_run
    expected = timeless(read_metrics(ref_dir / "metrics.jsonl"))
    train_and_evaluate(load_config(DIGITS, TINY), tmp_path / "same", verbose=False)
    assert timeless(read_metrics(tmp_path / "same" / "metrics.jsonl")) == expected
    other = load_config(DIGITS, [*TINY, "seed=1"])
    train_and_evaluate(other, tmp_path / "other", verbose=False)
    got = timeless(read_metrics(tmp_path / "other" / "metrics.jsonl"))
    assert [r["train_loss"] for r in got] != [r["train_loss"] for r in expected]


def test_resume_of_a_finished_run_and_more_epochs(reference_run, tmp_path):
    ref_dir, ref_summary = reference_run
    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.npz", "metrics.jsonl"):
        (out / name).write_bytes((ref_dir / name).read_bytes())
    summary = train_and_evaluate(load_config(DIGITS, TINY), out, resume=True, verbose=False)
    assert summary["test_accuracy"] == ref_summary["test_accuracy"]
    with pytest.raises(CheckpointError, match="`optimizer.schedule.peak_value`"):
        changed = load_config(DIGITS, [*TINY, "optimizer.schedule.peak_value=0.5"])
        train_and_evaluate(changed, out, resume=True, verbose=False)


def test_existing_run_is_kept_unless_overwrite(reference_run, tmp_path):
    ref_dir, _ = reference_run
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    config = load_config(DIGITS, TINY)
    with pytest.raises(CheckpointError, match="already holds a run"):
        train_and_evaluate(config, out, verbose=False)
    assert (out / "summary.json").read_text() == "{}"
    summary = train_and_evaluate(config, out, overwrite=True, verbose=False)
    assert json.loads((out / "summary.json").read_text())["epochs"] == summary["epochs"] == 3
    assert timeless(read_metrics(out / "metrics.jsonl")) == timeless(
        read_metrics(ref_dir / "metrics.jsonl")
    )


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    # A learning rate that jumps to 1e38 after epoch 1: epoch 2 diverges.
    sets = [
        *TINY,
        'optimizer.schedule={name="linear_schedule", init_value=0.001, end_value=1e38, '
        'transition_steps=1, transition_begin="steps_per_epoch"}',
        "optimizer.weight_decay=0.0",
    ]
    config = load_config(DIGITS, sets)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 2, step \d \(global step \d\)"):
        train_and_evaluate(config, tmp_path / "run", verbose=False)
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz", {})
    assert meta["epoch"] == 1 and len(meta["history"]) == 1
    assert len(read_metrics(tmp_path / "run" / "metrics.jsonl")) == 1
    argv = ["train", str(DIGITS), "--out", str(tmp_path / "cli")]
    for item in sets:
        argv += ["--set", item]
    assert cli.main(argv) == 1
    assert "loss is" in capsys.readouterr().err


def test_eval_command_matches_the_run_and_checks_the_checkpoint(reference_run, capsys):
    ref_dir, ref_summary = reference_run
    ckpt = str(ref_dir / "checkpoint.npz")
    argv = ["eval", str(DIGITS), "--checkpoint", ckpt]
    for item in TINY:
        argv += ["--set", item]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"test_accuracy={ref_summary['test_accuracy']:.4f}"
    )
    assert cli.main([*argv, "--set", "model.num_classes=12"]) == 1
    err = capsys.readouterr().err
    assert "12_dense']['b']` has shape (10,)" in err and "expected shape (12,)" in err


def test_checkpoint_errors(tmp_path):
    tree = {"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    path = tmp_path / "c.npz"
    save_checkpoint(path, tree, {"epoch": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temp file left behind
    loaded, meta = load_checkpoint(path, tree)
    np.testing.assert_array_equal(loaded["params"]["w"], tree["params"]["w"])
    assert meta == {"epoch": 3}
    with pytest.raises(CheckpointError, match="dtype float32, expected .* float64"):
        load_checkpoint(path, {"params": {"w": np.zeros((2, 3), np.float64)}})
    with pytest.raises(CheckpointError, match=r"leaf `params\['v'\]` is missing"):
        load_checkpoint(path, {"params": {"v": np.zeros((2, 3), np.float32)}})
    with pytest.raises(CheckpointError, match="unexpected leaf"):
        load_checkpoint(path, {"params": {}})
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="not a .npz .zip. archive"):
        load_checkpoint(tmp_path / "bad.npz", tree)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.npz", tree)
    np.savez(tmp_path / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="damaged checkpoint .ValueError"):
        load_checkpoint(tmp_path / "pickled.npz", tree)


def test_data_and_model_mismatch_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"`model.name`: model 'lenet5' expects images of shape"):
        build_experiment(load_config(DIGITS, [*TINY, "model.name=lenet5"]))
    with pytest.raises(ConfigError, match="`model.name`: unknown model 'lenet6'"):
        build_experiment(load_config(DIGITS, [*TINY, "model.name=lenet6"]))
    with pytest.raises(ConfigError, match="digits_cnn.toml: `data`: .*load_dataset"):
        build_experiment(load_config(DIGITS, ["data.options.colour=1"]))
    with pytest.raises(ConfigError, match="`data.augment`"):
        build_experiment(load_config(DIGITS, [*TINY, "data.augment=rotate"]))
    with pytest.raises(ConfigError, match="`train.batch_size`: is 128 but .* only 64"):
        build_experiment(load_config(DIGITS, [*TINY, "train.batch_size=128"]))
    with pytest.raises(ConfigError, match="decay_steps"):
        build_experiment(load_config(DIGITS, [*TINY, "optimizer.schedule.decay_steps=0"]))


def test_hand_and_autodiff_losses_agree_for_20_steps():
    """The same 20 steps of digits_cnn on the real digits data with ``grad="hand"`` and
    ``grad="autodiff"``: the losses agree to float32 round-off (accumulated over 20 Adam
    steps, hence a relative 1e-4; a wrong gradient anywhere is off by far more)."""
    hand, auto = (
        first_step_losses(DIGITS, [f"train.grad={g}", "train.batch_size=32"], 20)[0]
        for g in ("hand", "autodiff")
    )
    assert hand.shape == (20,) and hand[-5:].mean() < 0.8 * hand[:5].mean()  # it learns
    np.testing.assert_allclose(hand, auto, rtol=1e-4, atol=0)


def test_missing_data_folder_names_the_file_and_the_key(tmp_path):
    missing = tmp_path / "no-mnist"
    config = load_config(
        ROOT / "experiments" / "mnist_lenet5.toml", [f'data.options.path="{missing}"']
    )
    with pytest.raises(ConfigError, match=r"`data.options.path`: .*no-mnist.* is not a folder"):
        build_experiment(config)


def test_eval_normalises_with_the_statistics_saved_in_the_checkpoint(reference_run):
    """A different ``data.options.limit`` at eval time must not change the normalisation."""
    from cnnjax.train import evaluate_checkpoint

    ref_dir, ref_summary = reference_run
    _, meta = load_checkpoint(ref_dir / "checkpoint.npz", {})
    assert len(meta["normalization"]["mean"]) == len(meta["normalization"]["std"]) == 1
    fewer = load_config(DIGITS, [*TINY, "data.options.limit=16"])
    with pytest.raises(ConfigError, match=r"`data`: differs .*data.options.limit"):
        evaluate_checkpoint(fewer, ref_dir / "checkpoint.npz")
    result = evaluate_checkpoint(fewer, ref_dir / "checkpoint.npz", other_data=True)
    assert result["test_loss"] == pytest.approx(ref_summary["test_loss"], rel=1e-6)
    assert result["test_accuracy"] == ref_summary["test_accuracy"]
