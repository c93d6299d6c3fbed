"""Data-parallel scaling: ``resnet20`` training images/s on 1, 2, 4, ... devices.

Each device count runs in its own subprocess, because the CPU device count is fixed when JAX
starts (``--xla_force_host_platform_device_count``, appended to any ``XLA_FLAGS`` already
set, next to cnnjax's fast-convolution flag). The step is the one ``cnnjax train`` runs
(``cnnjax.steps.make_train_step`` with a ``data`` mesh placement): the global batch is split
over the devices, parameters are replicated and XLA inserts the gradient all-reduce.

Forced host devices share the machine's cores, so on CPU this measures the *overhead* of
sharding (more, smaller convolutions plus the all-reduces), not a speed-up. On a machine with
several accelerators, ``--platform gpu`` measures real scaling.

    python benchmarks/scaling.py                     # CPU, 1/2/4 forced devices
    python benchmarks/scaling.py --platform gpu --devices 1   # the GPUs there are
    python benchmarks/scaling.py --json scaling.json

Prints a table and (with ``--json``) writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(devices: int, batch: int, steps: int, warmup: int, grad: str) -> dict:
    """Time ``steps`` train steps of resnet20 on ``devices`` devices (in this process)."""
    from cnnjax.runtime import configure_fast_cpu_convolutions

    configure_fast_cpu_convolutions()
    import jax
    import numpy as np
    import optax

    from cnnjax import nn, ops, reference
    from cnnjax.distributed import make_placement
    from cnnjax.steps import make_train_step, step_key

    placement = make_placement(devices)
    model = nn.zoo.get_model("resnet20", num_classes=10)
    shape = tuple(nn.zoo.INPUT_SHAPES["resnet20"])
    params, state, _ = model.init(jax.random.key(0), shape)
    optimizer = optax.adamw(1e-3)
    step = make_train_step(
        model, ops if grad == "hand" else reference, optimizer, placement=placement
    )
    rng = np.random.default_rng(0)
    x = placement.shard(rng.standard_normal((batch, *shape), dtype=np.float32))
    y = placement.shard(rng.integers(0, 10, batch).astype(np.int32))
    carry = placement.replicate((params, state, optimizer.init(params)))
    key = placement.replicate(step_key(0, 1, 0))
    start = time.perf_counter()
    for _ in range(warmup):  # the first call compiles
        *carry, loss, _ = step(*carry, x, y, key)
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        *carry, loss, _ = step(*carry, x, y, key)
    jax.block_until_ready(loss)
    seconds = time.perf_counter() - start
    return {
        "devices": placement.num_devices,
        "platform": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "batch": batch,
        "per_device_batch": batch // placement.num_devices,
        "steps": steps,
        "grad": grad,
        "seconds_per_step": seconds / steps,
        "images_per_second": batch * steps / seconds,
        "warmup_seconds": compile_s,
        "loss": float(loss),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def run_one(n: int, args: argparse.Namespace) -> dict:
    from cnnjax.distributed import force_host_device_env

    env = force_host_device_env(n) if args.platform == "cpu" else dict(os.environ)
    env["JAX_PLATFORMS"] = args.platform if args.platform == "cpu" else "cuda"
    argv = [
        sys.executable,
        __file__,
        "--worker",
        str(n),
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--grad",
        args.grad,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=args.timeout)
    if proc.returncode != 0:
        return {"devices": n, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    base = next((r for r in rows if r.get("devices") == 1 and "error" not in r), None)
    lines = ["devices  platform  batch/dev  s/step   images/s  vs 1 device"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['devices']:>7}  error: {r['error']}")
            continue
        rel = f"{r['images_per_second'] / base['images_per_second']:.2f}x" if base else "-"
        lines.append(
            f"{r['devices']:>7}  {r['platform']:>8}  {r['per_device_batch']:>9}  "
            f"{r['seconds_per_step']:6.3f}  {r['images_per_second']:9.1f}  {rel:>11}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--platform", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--batch", type=int, default=64, help="global batch")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--grad", choices=["hand", "autodiff"], default="hand")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per device count")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        result = worker(args.worker, args.batch, args.steps, args.warmup, args.grad)
        print(json.dumps(result))
        return 0
    rows = [run_one(n, args) for n in args.devices]
    header = (
        f"resnet20 train step ({args.grad} VJPs), global batch {args.batch}, {args.steps} "
        f"timed steps; {platform.node()} with {os.cpu_count()} CPU cores"
    )
    print(header)
    print(table(rows))
    if args.platform == "cpu":
        print(
            "(forced host devices share the same cores: this shows sharding overhead, not speed-up)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
