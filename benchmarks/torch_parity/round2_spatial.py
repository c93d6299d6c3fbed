"""conv_transpose2d, pad2d, upsample2d against PyTorch: forward and autograd, float64, seeded.

Not run in CI; PyTorch is not a dependency. Run it from a scratch environment:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy jax
    PYTHONPATH=. /tmp/torchenv/bin/python benchmarks/torch_parity/round2_spatial.py [N]

Each of the N random configurations per op (default 100) draws awkward geometry, runs the op
in NHWC and PyTorch in NCHW, and compares the output and the gradients of <y, v> for a random
v, relative to the largest entry. Prints the worst relative error per op (forward, gradients)
and exits 1 on any error above 1e-9.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F

jax.config.update("jax_enable_x64", True)

import cnnjax as cj  # noqa: E402

torch.set_default_dtype(torch.float64)


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if b.size else 0.0


def _nchw(a):
    return torch.tensor(np.asarray(a).transpose(0, 3, 1, 2), requires_grad=True)


def _compare(jax_fn, torch_fn, arrays, to_torch):
    """Worst relative errors ``(output, gradients)`` of f(arrays) and of <f(arrays), v>."""
    y, vjp = jax.vjp(jax_fn, *[jnp.asarray(a) for a in arrays])
    v = np.random.default_rng(0).standard_normal(y.shape)
    t_in = [to_torch(i, a) for i, a in enumerate(arrays)]
    t_y = torch_fn(*t_in)
    (t_y * torch.tensor(v.transpose(0, 3, 1, 2))).sum().backward()
    errs = [_rel(y, t_y.detach().numpy().transpose(0, 2, 3, 1))]
    for i, (g, t) in enumerate(zip(vjp(jnp.asarray(v)), t_in, strict=True)):
        tg = t.grad.numpy()
        errs.append(_rel(g, tg.transpose(0, 2, 3, 1) if i == 0 else tg))  # arg 0 is NHWC x
    return errs[0], max(errs[1:])


def conv_transpose_case(rng):
    """One accepted configuration (padding that crops every reached row is redrawn)."""
    while True:
        try:
            return _conv_transpose_case(rng)
        except ValueError as err:
            if "crops every" not in str(err):
                raise


def _conv_transpose_case(rng):
    s, d = rng.integers(1, 4, 2), rng.integers(1, 4, 2)
    k = rng.integers(1, 5, 2)
    g = int(rng.choice([1, 2, 3]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    h, w = rng.integers(1, 6, 2)
    q = [int(rng.integers(0, max(s[i], d[i]))) for i in range(2)]
    full = [(h - 1) * s[0] + d[0] * (k[0] - 1) + 1, (w - 1) * s[1] + d[1] * (k[1] - 1) + 1]
    p = [int(rng.integers(0, max(1, (full[i] + q[i] - 1) // 2 + 1))) for i in range(2)]
    x = rng.standard_normal((2, h, w, c_in))
    wt = rng.standard_normal((c_in, c_out // g, *k))  # PyTorch's layout
    b = rng.standard_normal(c_out)
    kw = dict(stride=tuple(map(int, s)), dilation=tuple(map(int, d)), groups=g)

    def to_torch(i, a):
        return _nchw(a) if i == 0 else torch.tensor(a, requires_grad=True)

    return _compare(
        lambda x, wt, b: cj.conv_transpose2d(
            x, wt.transpose(2, 3, 1, 0), b, padding=tuple(p), output_padding=tuple(q), **kw
        ),
        lambda x, wt, b: F.conv_transpose2d(
            x, wt, b, padding=tuple(p), output_padding=tuple(q), **kw
        ),
        (x, wt, b),
        to_torch,
    )


def pad_case(rng):
    mode = str(rng.choice(["constant", "reflect", "replicate", "circular"]))
    h, w = rng.integers(1, 6, 2)
    lim = {"reflect": (h - 1, w - 1), "circular": (h, w)}.get(mode, (5, 5))
    pads = [int(rng.integers(0, lim[i // 2] + 1)) for i in range(4)]  # t, b, l, r
    if mode == "constant" and rng.random() < 0.3:
        pads[int(rng.integers(0, 4))] = -1
        if h + pads[0] + pads[1] < 1 or w + pads[2] + pads[3] < 1:
            pads = [max(p, 0) for p in pads]
    x = rng.standard_normal((2, h, w, 3))
    value = float(rng.standard_normal()) if mode == "constant" else 0.0
    t_pad = (pads[2], pads[3], pads[0], pads[1])
    kw = dict(value=value) if mode == "constant" else {}
    return _compare(
        lambda x: cj.pad2d(x, ((pads[0], pads[1]), (pads[2], pads[3])), mode=mode, **kw),
        lambda x: F.pad(x, t_pad, mode=mode, **kw),
        (x,),
        lambda i, a: _nchw(a),
    )


def _upsample_scale(rng, n):
    """A scale below 1, above 1, one that leaves the size unchanged, or an exact 2."""
    kind = rng.integers(0, 4)
    if kind == 0:
        s = rng.uniform(min(1.0 / n + 0.01, 1.0), 1.0)
    elif kind == 1:
        s = rng.uniform(1.0, 3.5)
    elif kind == 2:
        s = rng.uniform(1.0, 1.0 + 1.0 / n)  # floor(n * s) = n
    else:
        s = 2.0
    return float(np.round(s, int(rng.integers(2, 6)))) if kind < 3 else s


def upsample_case(rng):
    mode = str(rng.choice(["nearest", "bilinear"]))
    ac = bool(rng.random() < 0.5) if mode == "bilinear" else None
    h, w = (int(v) for v in rng.integers(1, 8, 2))
    if rng.random() < 0.4:
        size = tuple(
            int(v) if rng.random() < 0.8 else n
            for v, n in zip(rng.integers(1, 12, 2), (h, w), strict=True)
        )
        kw = dict(size=size)
    else:
        sf = (_upsample_scale(rng, h), _upsample_scale(rng, w))
        if min(int(h * sf[0]), int(w * sf[1])) < 1:
            sf = (max(sf[0], 1.0), max(sf[1], 1.0))
        kw = dict(scale_factor=sf)
    x = rng.standard_normal((2, h, w, 2))
    return _compare(
        lambda x: cj.upsample2d(x, mode=mode, align_corners=bool(ac), **kw),
        lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw),
        (x,),
        lambda i, a: _nchw(a),
    )


def main(n: int) -> int:
    worst_all = 0.0
    for name, case in [
        ("conv_transpose2d", conv_transpose_case),
        ("pad2d", pad_case),
        ("upsample2d", upsample_case),
    ]:
        rng = np.random.default_rng(12)
        errs = np.asarray([case(rng) for _ in range(n)])
        fwd, grad = errs.max(axis=0)
        worst_all = max(worst_all, fwd, grad)
        print(f"{name:18s} {n} configs  worst relative error: forward {fwd:.2e}, grads {grad:.2e}")
    return int(worst_all > 1e-9)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
