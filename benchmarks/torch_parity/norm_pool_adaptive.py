"""PyTorch parity of the norm and adaptive-pool ops: forward and gradients, float64, NHWC<->NCHW.

Not run in CI (PyTorch is not a dependency). Run from the repository root in a scratch venv:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy jax
    PYTHONPATH=. /tmp/torchenv/bin/python benchmarks/torch_parity/norm_pool_adaptive.py

Prints, per op, the number of random configurations and the worst relative error (max |diff|
over max |torch|) of the output and of every input gradient.
"""

# ruff: noqa: B023  (each lambda is called by compare() within its own loop iteration)
from __future__ import annotations

import jax
import numpy as np
import torch
import torch.nn.functional as F

jax.config.update("jax_enable_x64", True)
import cnnjax as cj  # noqa: E402


def nchw(a):  # NHWC numpy -> NCHW torch leaf
    return torch.tensor(np.moveaxis(a, -1, 1).copy(), requires_grad=True)


def rel(got, want):
    got, want = np.asarray(got), np.asarray(want)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))


def compare(f_cj, f_torch, arrays, channel_last):
    """Worst relative error over the output and the gradients of all arrays (None skipped)."""
    rng = np.random.default_rng(0)
    live = [i for i, a in enumerate(arrays) if a is not None]

    def f(*d):
        full = list(arrays)
        for i, v in zip(live, d, strict=True):
            full[i] = v
        return f_cj(*full)

    y, vjp = jax.vjp(f, *(arrays[i] for i in live))
    ct = rng.standard_normal(y.shape)
    grads = vjp(ct)
    t_in = [
        None
        if a is None
        else (nchw(a) if k in channel_last else torch.tensor(a, requires_grad=True))
        for k, a in enumerate(arrays)
    ]
    ty = f_torch(*t_in)
    nhwc_out = ty.ndim == 4 and 0 in channel_last
    ct_t = torch.tensor(np.moveaxis(ct, -1, 1).copy()) if nhwc_out else torch.tensor(ct)
    ty.backward(ct_t)
    ty_np = ty.detach().numpy()
    errs = [rel(y, np.moveaxis(ty_np, 1, -1) if nhwc_out else ty_np)]
    for g, i in zip(grads, live, strict=True):
        tg = t_in[i].grad.numpy()
        errs.append(rel(g, np.moveaxis(tg, 1, -1) if i in channel_last else tg))
    return max(errs)


def _bn_eval(x, m, v, s, b, eps):
    """F.batch_norm(training=False) has no gradient wrt the running stats: the same expression
    written out (checked against F.batch_norm's output) gives them."""
    col = (1, -1, 1, 1)
    y = (x - m.reshape(col)) / torch.sqrt(v.reshape(col) + eps)
    y = y if s is None else y * s.reshape(col)
    y = y if b is None else y + b.reshape(col)
    d = [None if a is None else a.detach() for a in (m, v, s, b)]
    want = F.batch_norm(x.detach(), *d[:2], *d[2:], training=False, eps=eps)
    assert torch.allclose(y.detach(), want, rtol=1e-12, atol=1e-12)
    return y


def main(n_per_op: int = 15):
    rng = np.random.default_rng(12)
    worst: dict[str, list[float]] = {}

    def rec(name, err):
        worst.setdefault(name, []).append(err)

    for _ in range(n_per_op):
        n, h, w = rng.integers(1, 4), rng.integers(1, 8), rng.integers(2, 8)
        g = int(rng.choice([1, 2, 3]))
        c = g * int(rng.integers(1, 4))
        x = 2.0 * rng.standard_normal((n, h, w, c)) + 0.5
        s, b = 1 + 0.5 * rng.standard_normal(c), rng.standard_normal(c)
        s = s if rng.random() < 0.7 else None
        b = b if rng.random() < 0.7 else None
        eps = float(rng.choice([1e-5, 1e-3]))
        rec(
            "group_norm",
            compare(
                lambda x, s, b: cj.group_norm(x, s, b, num_groups=g, eps=eps),
                # torch 2.13's CPU group_norm backward fails ("tensor does not have a device")
                # for some None weight/bias: pass ones/zeros there, the same map.
                lambda x, s, b: F.group_norm(
                    x,
                    g,
                    torch.ones(c, dtype=x.dtype) if s is None else s,
                    torch.zeros(c, dtype=x.dtype) if b is None else b,
                    eps=eps,
                ),
                [x, s, b],
                {0},
            ),
        )
        if h * w > 1:
            rec(
                "instance_norm",
                compare(
                    lambda x, s, b: cj.instance_norm(x, s, b, eps=eps),
                    lambda x, s, b: F.instance_norm(x, weight=s, bias=b, eps=eps),
                    [x, s, b],
                    {0},
                ),
            )
        if n * h * w > 1:
            rec(
                "batch_norm",
                compare(
                    lambda x, s, b: cj.batch_norm(x, s, b, eps=eps)[0],
                    lambda x, s, b: F.batch_norm(x, None, None, s, b, training=True, eps=eps),
                    [x, s, b],
                    {0},
                ),
            )
        mean, var = rng.standard_normal(c), 0.5 + rng.random(c)
        rec(
            "batch_norm_inference",
            compare(
                lambda x, m, v, s, b: cj.batch_norm_inference(x, m, v, s, b, eps=eps),
                lambda x, m, v, s, b: _bn_eval(x, m, v, s, b, eps),
                [x, mean, var, s, b],
                {0},
            ),
        )
        # layer_norm over the trailing k axes of NHWC; torch sees the same (no transpose).
        k = int(rng.integers(1, 4))
        p = x.shape[4 - k :]
        ls = 1 + 0.5 * rng.standard_normal(p) if s is not None else None
        lb = rng.standard_normal(p) if b is not None else None
        axes = tuple(range(-k, 0))
        rec(
            "layer_norm",
            compare(
                lambda x, s, b: cj.layer_norm(x, s, b, eps=eps, axis=axes),
                lambda x, s, b: F.layer_norm(x, p, s, b, eps=eps),
                [x, ls, lb],
                set(),
            ),
        )
        out = (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        xd = rng.permutation(np.arange(x.size, dtype=np.float64)).reshape(x.shape) / x.size
        rec(
            "adaptive_avg_pool2d",
            compare(
                lambda x: cj.adaptive_avg_pool2d(x, out),
                lambda x: F.adaptive_avg_pool2d(x, out),
                [x],
                {0},
            ),
        )
        rec(
            "adaptive_max_pool2d",
            compare(
                lambda x: cj.adaptive_max_pool2d(x, out),
                lambda x: F.adaptive_max_pool2d(x, out),
                [xd],
                {0},
            ),
        )
        rec(
            "global_max_pool2d",
            compare(
                cj.global_max_pool2d,
                lambda x: F.adaptive_max_pool2d(x, 1).flatten(1),
                [xd],
                {0},
            ),
        )
    total = sum(len(v) for v in worst.values())
    for name, errs in worst.items():
        print(f"{name:22s} configs {len(errs):3d}  worst rel err {max(errs):.2e}")
    print(f"total configs {total}")


if __name__ == "__main__":
    main()
