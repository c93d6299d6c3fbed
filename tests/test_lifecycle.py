"""Fault test: ``kill -9`` a ``cnnjax train`` process before its first checkpoint, mid-run and
in the middle of a checkpoint write, ``--resume`` after each, and end with exactly the metrics
of an uninterrupted run (timings aside).

Every process pays JAX's start-up and a hundred-odd compilations (the eager model init and
optimizer probe, then the steps). The uninterrupted run goes first and fills a persistent
compilation cache; the interrupted ones only read it (they compile nothing it lacks, so a kill
cannot leave a half-written entry), which leaves them little more than the start-up. A cached
executable is the serialized compiled program: the numbers do not change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnnjax.checkpoint import PAUSE_AT_ENV, PAUSE_ENV
from cnnjax.metrics import TIMING_FIELDS, read_metrics

ROOT = Path(__file__).parent.parent
DIGITS = ROOT / "experiments" / "digits_cnn.toml"
# 16 steps of 16 an epoch on synthetic 8x8 images, 3 epochs.
SETS = [
    'data.name="synthetic"',
    "data.options={image_shape=[8, 8, 1], num_train=256, num_test=32, seed=3}",
    "train.batch_size=16",
    "train.epochs=3",
    "output.plot=false",
]
ENV = {**os.environ, "CNNJAX_HUGE_PAGES": "0", "CNNJAX_FAST_CONV": "0"}


def _cached(env: dict, cache: Path) -> dict:
    """``env`` with JAX's persistent compilation cache in ``cache``, for every compilation."""
    return {
        **env,
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


def _start(out: Path, *extra: str, env=None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "cnnjax", "train", str(DIGITS), "--out", str(out), *extra]
    for item in SETS:
        argv += ["--set", item]
    return subprocess.Popen(
        argv, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def timeless(records):
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def test_kill_9_at_three_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "run"
    env = _cached(ENV, tmp_path / "jax-cache")
    reference = _start(ref, env=env)  # first, alone: it writes the compilation cache
    stdout_ref, stderr_ref = reference.communicate(timeout=300)
    assert reference.returncode == 0, stderr_ref
    assert len(list((tmp_path / "jax-cache").iterdir())) > 10  # the steps, the eager ops
    # 1. Before the first checkpoint: the staging folder exists, nothing is committed yet.
    proc = _start(out, env=env)
    _wait_for(lambda: any(out.glob(".staging-*")), proc)
    _kill(proc)
    assert not (out / "checkpoint.npz").exists()
    # 2. Mid-run: right after the first checkpoint is on disk.
    proc = _start(out, "--resume", env=env)
    _wait_for(lambda: (out / "metrics.jsonl").exists(), proc)
    _kill(proc)
    assert not (out / "summary.json").exists()
    done = len(read_metrics(out / "metrics.jsonl"))
    # 3. During the next checkpoint write: the temporary file is written, not yet renamed.
    pause = {**env, PAUSE_ENV: "60", PAUSE_AT_ENV: str(done + 1)}
    proc = _start(out, "--resume", env=pause)
    for line in proc.stderr:
        if "test hook: pausing" in line:
            break
    _kill(proc)
    assert len(read_metrics(out / "metrics.jsonl")) == done  # the old checkpoint still rules
    proc = _start(out, "--resume", env=env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"at epoch {done + 1}/3" in stderr and "stale lock" in stderr
    expected = timeless(read_metrics(ref / "metrics.jsonl"))
    assert len(expected) == 3
    assert timeless(read_metrics(out / "metrics.jsonl")) == expected
    assert stdout.splitlines()[-1] == stdout_ref.splitlines()[-1]  # test_accuracy=...
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no lock, no staging left


def test_curves_accuracy_axis_spans_the_test_curve_not_the_early_train_one(tmp_path):
    from cnnjax.metrics import _accuracy_range, plot_curves

    history = [
        {
            "epoch": e,
            "train_loss": 2.0 / e,
            "test_loss": 1.5 / e,
            "train_accuracy": a,
            "test_accuracy": t,
        }
        for e, a, t in [(1, 0.1, 0.96), (2, 0.9, 0.97), (3, 0.99, 0.985), (4, 0.995, 0.99)]
    ]
    lo, hi = _accuracy_range(history)
    assert lo <= 0.96 and hi >= 0.995 and lo > 0.5  # the chance-level 0.1 is off the axis
    plot_curves(tmp_path / "c.png", history, "t")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
