"""cnnjax max_pool2d / avg_pool2d against PyTorch's F.max_pool2d / F.avg_pool2d, float64.

Not run in CI (PyTorch is not a dependency). Run it from the repository root in a scratch
environment holding torch, numpy and jax:

    python3 -m venv /work/torchenv && /work/torchenv/bin/pip install torch==2.13.0 numpy jax
    PYTHONPATH=. /work/torchenv/bin/python benchmarks/torch_parity/pool_parity.py [n_configs]

Random configurations (window, stride, symmetric padding within PyTorch's limit, dilation,
ceil_mode, count_include_pad, divisor_override) on tie-free NHWC inputs; each compares the
forward and the gradient of a random cotangent, and prints the worst relative errors.
Hand-built edge inputs (all -inf windows, NaN windows) are compared too.
"""

from __future__ import annotations

import sys

import jax
import numpy as np
import torch
import torch.nn.functional as F

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import cnnjax  # noqa: E402


def _config(r):
    k = (int(r.integers(1, 5)), int(r.integers(1, 5)))
    s = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    max_op = bool(r.integers(2))
    d = (int(r.integers(1, 3)), int(r.integers(1, 3))) if max_op else (1, 1)
    eff = [di * (ki - 1) + 1 for di, ki in zip(d, k, strict=True)]
    p = tuple(int(r.integers(0, ki // 2 + 1)) for ki in k)  # PyTorch: pad <= kernel / 2
    hw = tuple(int(r.integers(e, e + 7)) for e in eff)
    return dict(
        op="max" if max_op else "avg",
        shape=(int(r.integers(1, 3)), *hw, int(r.integers(1, 3))),
        window=k,
        stride=s,
        padding=p,
        dilation=d,
        ceil_mode=bool(r.integers(2)),
        count_include_pad=bool(r.integers(2)),
        divisor_override=None if r.integers(3) else int(r.integers(1, 7)),
    )


def _ours(c, x):
    if c["op"] == "max":
        return lambda v: cnnjax.max_pool2d(
            v,
            c["window"],
            stride=c["stride"],
            padding=c["padding"],
            dilation=c["dilation"],
            ceil_mode=c["ceil_mode"],
        )
    return lambda v: cnnjax.avg_pool2d(
        v,
        c["window"],
        stride=c["stride"],
        padding=c["padding"],
        ceil_mode=c["ceil_mode"],
        count_include_pad=c["count_include_pad"],
        divisor_override=c["divisor_override"],
    )


def _torch(c, xt):
    if c["op"] == "max":
        return F.max_pool2d(
            xt, c["window"], c["stride"], c["padding"], c["dilation"], ceil_mode=c["ceil_mode"]
        )
    return F.avg_pool2d(
        xt,
        c["window"],
        c["stride"],
        c["padding"],
        ceil_mode=c["ceil_mode"],
        count_include_pad=c["count_include_pad"],
        divisor_override=c["divisor_override"],
    )


def _compare(c, x, ct_seed):
    """Max relative (to the largest reference entry) errors of forward and gradient."""
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = _torch(c, xt)
    ct = np.random.default_rng(ct_seed).normal(size=yt.shape)
    yt.backward(torch.tensor(ct))
    y, vjp = jax.vjp(_ours(c, x), jnp.asarray(x))
    (gx,) = vjp(jnp.asarray(ct.transpose(0, 2, 3, 1)))
    want_y = yt.detach().numpy().transpose(0, 2, 3, 1)
    want_g = xt.grad.numpy().transpose(0, 2, 3, 1)
    if y.shape != want_y.shape:
        return np.inf, np.inf
    err = []
    for got, want in ((np.asarray(y), want_y), (np.asarray(gx), want_g)):
        same_nonfinite = np.array_equal(np.isfinite(got), np.isfinite(want))
        fin = np.isfinite(want)
        scale = max(np.max(np.abs(want[fin]), initial=0.0), 1e-300)
        diff = np.max(np.abs(got[fin] - want[fin]), initial=0.0) / scale
        err.append(diff if same_nonfinite else np.inf)
    return tuple(err)


def _edge_cases():
    one_nan = np.arange(16.0).reshape(1, 4, 4, 1)
    one_nan[0, 1, 2, 0] = np.nan
    two_nan = one_nan.copy()
    two_nan[0, 2, 1, 0] = np.nan
    base = dict(dilation=(1, 1), ceil_mode=False, count_include_pad=True, divisor_override=None)
    return [
        (
            "all -inf, k3 s2 p1",
            {**base, "op": "max", "window": (3, 3), "stride": (2, 2), "padding": (1, 1)},
            np.full((1, 3, 3, 1), -np.inf),
        ),
        (
            "all -inf, k4 s3 p2 ceil",
            {
                **base,
                "op": "max",
                "window": (4, 4),
                "stride": (3, 3),
                "padding": (2, 2),
                "ceil_mode": True,
            },
            np.full((1, 5, 5, 1), -np.inf),
        ),
        (
            "one NaN, k3 s1",
            {**base, "op": "max", "window": (3, 3), "stride": (1, 1), "padding": (0, 0)},
            one_nan,
        ),
        # Expected to differ in the gradient: the DESIGN routes to the FIRST NaN (as
        # lax.reduce_window's autodiff order does); PyTorch's loop keeps the LAST NaN.
        (
            "two NaN, k3 s1 (DESIGN: first NaN; PyTorch: last)",
            {**base, "op": "max", "window": (3, 3), "stride": (1, 1), "padding": (0, 0)},
            two_nan,
        ),
    ]


def main(n: int = 120) -> int:
    r = np.random.default_rng(2026)
    worst = {"max": [0.0, 0.0], "avg": [0.0, 0.0]}
    failed = 0
    for i in range(n):
        c = _config(r)
        x = r.permutation(int(np.prod(c["shape"]))).reshape(c["shape"]) / 7.0 - 3.0
        e = _compare(c, x, i)
        worst[c["op"]] = [max(a, b) for a, b in zip(worst[c["op"]], e, strict=True)]
        if max(e) > 1e-12:
            failed += 1
            print("MISMATCH", c, e)
    for name, c, x in _edge_cases():
        e = _compare(c, x, 0)
        print(f"edge {name}: forward {e[0]:.1e}, gradient {e[1]:.1e}")
        failed += max(e) > 1e-12 and "PyTorch: last" not in name
    for op, (fwd, grad) in worst.items():
        print(f"{op}_pool2d: worst relative error forward {fwd:.1e}, gradient {grad:.1e}")
    print(f"{n} random configs + {len(_edge_cases())} edge inputs, {failed} mismatches")
    return int(failed > 0)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 120))
