"""Data-parallel training: the same losses on 1, 2 and 4 (forced CPU) devices for hand and
autodiff VJPs, a clear error for a batch the devices do not divide, a 4-device checkpoint
resumed on 1 device, and a two-process run on localhost that agrees with one process.

The device count is fixed when JAX starts (``--xla_force_host_platform_device_count``), so
everything multi-device runs in subprocesses.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnjax.config import ConfigError, load_config
from cnnjax.distributed import force_host_device_env, force_host_device_flags, make_placement
from cnnjax.metrics import read_metrics
from tests._once import once

ROOT = Path(__file__).parent.parent
DIGITS = ROOT / "experiments" / "digits_cnn.toml"
# digits_cnn on 128 real digits, 8 steps of 16 an epoch, 2 epochs.
TINY = [
    "data.options.limit=128",
    "train.batch_size=16",
    "train.epochs=2",
    "train.eval_batch_size=100",
    "output.plot=false",
]
STEPS = 6

DRIVER = """
import json, sys
import jax
import numpy as np
from cnnjax.config import ConfigError, load_config
from cnnjax.distributed import host_batches, make_placement, check_batch_size
from cnnjax.steps import compiled_steps, step_key
from cnnjax.train import build_experiment, train_and_evaluate

digits, out, steps, tiny = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
result = {"device_count": jax.device_count(), "losses": {}, "errors": []}
for grad in ("hand", "autodiff"):
    config = load_config(digits, [*tiny, f"train.grad={grad}"])
    exp = build_experiment(config)
    for n in (1, 2, 4):
        p = make_placement(n)
        train_step, _ = compiled_steps(config, exp, p)
        params, state, opt_state = p.replicate((exp.params, exp.state, exp.opt_state))
        batches = host_batches(exp.data.train_images, exp.data.train_labels, 16, p,
                               seed=config.seed, epoch=1)
        losses = []
        for step, (x, y) in zip(range(steps), batches):
            key = p.replicate(step_key(config.seed, 1, step))
            params, state, opt_state, loss, _ = train_step(
                params, state, opt_state, p.from_local(x, 16), p.from_local(y, 16), key)
            assert loss.sharding.is_fully_replicated and x.shape[0] == 16
            losses.append(float(loss))
        result["losses"][f"{grad}-{n}"] = losses
for sets in (["train.devices=4", "train.batch_size=10"], ["train.devices=8"]):
    try:
        train_and_evaluate(load_config(digits, [*tiny, *sets]), out + "/bad", verbose=False)
    except ConfigError as e:
        result["errors"].append(str(e))

def stop_after_epoch_1(epoch, record):
    if epoch == 1:
        raise KeyboardInterrupt
try:  # interrupted after the epoch-1 checkpoint, written from 4 devices
    train_and_evaluate(load_config(digits, [*tiny, "train.devices=4"]), out + "/resumed",
                       verbose=False, on_epoch_end=stop_after_epoch_1)
except KeyboardInterrupt:
    pass
train_and_evaluate(load_config(digits, [*tiny, "train.devices=1"]), out + "/resumed",
                   resume=True, verbose=False)
train_and_evaluate(load_config(digits, tiny), out + "/single", verbose=False)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """One subprocess with 4 forced CPU devices: per-step losses on 1/2/4 devices, the
    error messages, a 4-device run resumed on 1 device, and a plain 1-device run (once per
    session: an xdist worker that gets some of these tests reads the other's result)."""

    def drive(out: Path) -> dict:
        argv = [sys.executable, "-c", textwrap.dedent(DRIVER), str(DIGITS), str(out)]
        proc = subprocess.run(
            [*argv, str(STEPS), *TINY],
            capture_output=True,
            text=True,
            timeout=300,
            env=force_host_device_env(4),
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"result": json.loads(proc.stdout.strip().splitlines()[-1]), "out": str(out)}

    shared = once(tmp_path_factory, "four_devices", drive)
    return shared["result"], Path(shared["out"])


@pytest.mark.parametrize("grad", ["hand", "autodiff"])
def test_losses_do_not_depend_on_the_device_count(four_devices, grad):
    """Batch norm and the loss reduce over the global batch: 1, 2 and 4 devices give the same
    losses to float32 round-off (a per-device statistic would differ by far more)."""
    result, _ = four_devices
    assert result["device_count"] == 4
    one = np.array(result["losses"][f"{grad}-1"])
    assert one.shape == (STEPS,) and np.all(np.isfinite(one))
    for n in (2, 4):
        np.testing.assert_allclose(result["losses"][f"{grad}-{n}"], one, rtol=2e-5, atol=0)
    np.testing.assert_allclose(
        result["losses"]["hand-4"], result["losses"]["autodiff-1"], rtol=1e-4
    )


def test_batch_size_the_devices_do_not_divide_and_too_many_devices(four_devices):
    errors = four_devices[0]["errors"]
    assert len(errors) == 2
    assert (
        "`train.batch_size`: is 10, which the 4 devices of `train.devices` do not divide"
        in (errors[0])
    )
    assert "use a multiple of 4" in errors[0]
    assert "`train.devices`: is 8 but this run has 4 device(s)" in errors[1]


def test_a_4_device_checkpoint_resumes_on_1_device(four_devices):
    _, out = four_devices
    resumed = read_metrics(out / "resumed" / "metrics.jsonl")
    single = read_metrics(out / "single" / "metrics.jsonl")
    assert [r["epoch"] for r in resumed] == [1, 2] == [r["epoch"] for r in single]
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        np.testing.assert_allclose(
            [r[key] for r in resumed], [r[key] for r in single], rtol=1e-4, err_msg=key
        )
    assert load_config(out / "resumed" / "config.toml").train.devices == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_localhost_agree_with_one(four_devices, tmp_path):
    """Two processes of 2 CPU devices each (gloo collectives), coordinated on 127.0.0.1 via
    the environment, train one 4-device run; process 0 alone writes, and its metrics match
    the single-process run."""
    _, out = four_devices
    port = _free_port()
    procs = []
    for pid in (0, 1):
        env = force_host_device_env(2)
        env.update(
            JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            JAX_NUM_PROCESSES="2",
            JAX_PROCESS_ID=str(pid),
        )
        argv = [
            sys.executable,
            "-m",
            "cnnjax",
            "train",
            str(DIGITS),
            "--out",
            str(tmp_path / f"p{pid}"),
            "--set",
            'train.devices="all"',
        ]
        for item in TINY:
            argv += ["--set", item]
        procs.append(
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
            )
        )
    results = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        results.append((p.returncode, stdout, stderr))
    for rc, _, stderr in results:
        assert rc == 0, stderr[-3000:]
    out0, out1 = (r[1].splitlines() for r in results)
    assert out0[-1].startswith("test_accuracy=")
    # Only process 0 prints the epoch lines and the final line (gloo may log to stdout).
    assert [ln for ln in out1 if ln.startswith(("epoch", "test_accuracy="))] == []
    assert not (tmp_path / "p1").exists()  # ... and writes
    got = read_metrics(tmp_path / "p0" / "metrics.jsonl")
    single = read_metrics(out / "single" / "metrics.jsonl")
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        np.testing.assert_allclose(
            [r[key] for r in got], [r[key] for r in single], rtol=1e-4, err_msg=key
        )


def test_devices_config_key_and_flags():
    assert load_config(DIGITS).train.devices == 1
    assert load_config(DIGITS, ['train.devices="all"']).train.devices == "all"
    for bad in ("train.devices=0", 'train.devices="many"', "train.devices=true"):
        with pytest.raises(ConfigError, match="`train.devices`"):
            load_config(DIGITS, [bad])
    with pytest.raises(ConfigError, match="`distributed.process_id`: must be in"):
        load_config(DIGITS, ["distributed.num_processes=2", "distributed.process_id=2"])
    flags = force_host_device_flags(4, "--xla_cpu_foo=1")
    assert flags == "--xla_cpu_foo=1 --xla_force_host_platform_device_count=4"
    p = make_placement("all")
    assert p.num_devices >= 1 and p.local_rows(8) == slice(0, 8)


def test_unreachable_coordinator_times_out_naming_the_address(tmp_path):
    """A coordinator address nothing listens on: one clear error naming it, after the
    configured timeout, not a silent hang."""
    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    env = {
        **force_host_device_env(1),
        "JAX_COORDINATOR_ADDRESS": address,
        "JAX_NUM_PROCESSES": "2",
        "JAX_PROCESS_ID": "1",
        "CNNJAX_COORDINATOR_TIMEOUT_S": "3",
        "CNNJAX_HUGE_PAGES": "0",
    }
    argv = [sys.executable, "-m", "cnnjax", "train", str(DIGITS), "--out", str(tmp_path / "r")]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"coordinator {address} within 3 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()
