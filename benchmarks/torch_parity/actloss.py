"""Activations and losses of round 2 vs PyTorch: forward and autograd, float64, seeded configs.

Not run in CI (PyTorch is not a dependency). Run from the repository root with a scratch venv:

    python3 -m venv /work/torchenv_h8 && /work/torchenv_h8/bin/pip install torch==2.13.0 numpy jax
    PYTHONPATH=. /work/torchenv_h8/bin/python benchmarks/torch_parity/actloss.py [n_configs]

Prints, per op, the number of configurations and the worst relative error (to the largest
entry) of the forward value and of each gradient. NHWC here, NCHW there: prelu's channel is
moved to axis 1 for PyTorch.
"""

from __future__ import annotations

import sys

import jax
import numpy as np
import torch
import torch.nn.functional as F

jax.config.update("jax_enable_x64", True)

import cnnjax as cj  # noqa: E402


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if b.size else 0.0


def _compare(jfn, tfn, arrays, rng):
    """Worst relative error of value and each gradient, for a random output cotangent."""
    y, vjp = jax.vjp(jfn, *arrays)
    ct = rng.standard_normal(np.shape(y))
    grads = vjp(ct)
    ts = [torch.tensor(np.asarray(a), requires_grad=True) for a in arrays]
    ty = tfn(*ts)
    ty.backward(torch.tensor(ct))
    return [_rel(y, ty.detach().numpy())] + [
        _rel(g, t.grad.numpy()) for g, t in zip(grads, ts, strict=True)
    ]


def _shape(rng):
    return tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(1, 5))))


def _configs(rng):
    """(name, jax fn, torch fn, arrays) for one random configuration of every op."""
    x = rng.standard_normal(_shape(rng)) * 4
    yield ("softmax", *_softmax(x, rng))
    yield "silu", cj.silu, F.silu, (x,)
    yield "relu6", cj.relu6, F.relu6, (x + 3,)
    yield "hardswish", cj.hardswish, F.hardswish, (x,)
    yield "elu-negative", lambda v: cj.elu(v, 1.5), lambda v: F.elu(v, 1.5), (-np.abs(x) * 10,)
    xp = rng.standard_normal((2, 3, 4, int(rng.integers(1, 5))))
    alpha = rng.uniform(0.05, 0.5, size=xp.shape[-1] if rng.random() < 0.5 else 1)
    yield "prelu", cj.prelu, lambda v, a: F.prelu(v.movedim(-1, 1), a).movedim(1, -1), (xp, alpha)
    yield _cross_entropy(rng)
    pred = rng.standard_normal((int(rng.integers(1, 5)), *_shape(rng)))
    target = rng.standard_normal(pred.shape)
    dims = tuple(range(1, pred.ndim))
    yield "mse_loss", cj.mse_loss, lambda p, t: _torch_mse(p, t, dims), (pred, target)


def _torch_mse(p, t, dims):
    loss = F.mse_loss(p, t, reduction="none")
    return loss.mean(dim=dims) if dims else loss


def _softmax(x, rng):
    axis = int(rng.integers(-x.ndim, x.ndim))
    return (lambda v: cj.softmax(v, axis)), (lambda v: F.softmax(v, dim=axis)), (x,)


def _cross_entropy(rng):
    n, k = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    logits = rng.standard_normal((n, k)) * 3
    eps = float(rng.choice([0.0, 0.1, 0.3]))
    weight = rng.uniform(0.5, 2.0, size=k) if rng.random() < 0.5 else None
    tw = None if weight is None else torch.tensor(weight)
    if rng.random() < 0.3:  # probability targets, differentiable
        t = rng.uniform(0.1, 1, size=(n, k))
        t /= t.sum(-1, keepdims=True)
        jf = lambda l, t: cj.softmax_cross_entropy(l, t, label_smoothing=eps, weight=weight)  # noqa: E731
        tf = lambda l, t: F.cross_entropy(  # noqa: E731
            l, t, weight=tw, label_smoothing=eps, reduction="none"
        )
        return "cross_entropy-prob", jf, tf, (logits, t)
    labels = rng.integers(0, k, size=n)
    ignore = int(rng.integers(0, k)) if rng.random() < 0.5 else None
    if ignore is not None and rng.random() < 0.3:
        labels[:] = ignore
    tl = torch.tensor(labels)
    jf = lambda l: cj.softmax_cross_entropy(  # noqa: E731
        l, labels, label_smoothing=eps, weight=weight, ignore_index=ignore
    )
    tf = lambda l: F.cross_entropy(  # noqa: E731
        l,
        tl,
        weight=tw,
        label_smoothing=eps,
        reduction="none",
        ignore_index=-100 if ignore is None else ignore,
    )
    return "cross_entropy-int", jf, tf, (logits,)


def elu_tail() -> float:
    """Worst *elementwise* relative error of elu's gradient vs torch over x in [-40, 0]."""
    x = np.linspace(-40.0, 0.0, 4001)
    g = jax.grad(lambda v: cj.elu(v).sum())(x)
    t = torch.tensor(x, requires_grad=True)
    F.elu(t).sum().backward()
    return float(np.max(np.abs(np.asarray(g) - t.grad.numpy()) / t.grad.numpy()))


def main(n_configs: int = 100) -> None:
    worst: dict[str, list[float]] = {}
    count: dict[str, int] = {}
    for seed in range(n_configs):
        rng = np.random.default_rng(seed)
        for name, jfn, tfn, arrays in _configs(rng):
            errs = _compare(jfn, tfn, arrays, rng)
            old = worst.get(name, [0.0] * len(errs))
            worst[name] = [max(a, b) for a, b in zip(old, errs, strict=True)]
            count[name] = count.get(name, 0) + 1
    for name, errs in worst.items():
        grads = ", ".join(f"{e:.1e}" for e in errs[1:])
        print(f"{name:18s} configs {count[name]:4d}  forward {errs[0]:.1e}  grads {grads}")


if __name__ == "__main__":
    print(f"elu grad, elementwise rel. error vs torch on [-40, 0]: {elu_tail():.1e}")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
