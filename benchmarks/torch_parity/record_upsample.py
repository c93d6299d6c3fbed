"""Record F.interpolate's outputs and input gradients for the upsample2d regression tests.

PyTorch is not a dependency; run this from a scratch environment with torch installed:

    PYTHONPATH=. /tmp/torchenv/bin/python benchmarks/torch_parity/record_upsample.py

It writes tests/ops/data/upsample_torch.json: per configuration the NHWC input ``x``, a
cotangent ``v``, PyTorch's output ``y`` and the gradient ``g`` of <y, v> in ``x`` (float64,
NHWC). The configurations are the ones where cnnjax once disagreed with PyTorch: an axis
whose size does not change is copied whatever the scale factor says, and the bilinear source
index is floored in float32 (``floorf``).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

OUT = pathlib.Path(__file__).parents[2] / "tests" / "ops" / "data" / "upsample_torch.json"

# (name, NHWC shape, F.interpolate keywords)
CONFIGS = [
    # H_out = floor(2 * 0.87) = 1, W_out = floor(6 * 1.08) = 6 = W: the W axis is copied
    ("bilinear-s0.87x1.08-2x6", (2, 2, 6, 2), dict(scale_factor=(0.87, 1.08), mode="bilinear")),
    # both sizes unchanged (floor(3 * 1.3) = 3, floor(5 * 1.1) = 5): the identity
    ("bilinear-s1.3x1.1-3x5", (1, 3, 5, 1), dict(scale_factor=(1.3, 1.1), mode="bilinear")),
    # source index of W column 2 is 1 - 1e-8: floorf rounds it to 1, weight 0 on column 0
    (
        "bilinear-floorf-1x3",
        (1, 1, 3, 2),
        dict(scale_factor=(1.0, 2.5 / (1.5 - 1e-8)), mode="bilinear"),
    ),
    # align_corners with an unchanged H and H_out = 1 in W
    (
        "bilinear-ac-size-4x3",
        (1, 4, 3, 1),
        dict(size=(4, 1), mode="bilinear", align_corners=True),
    ),
    # nearest: an unchanged H at scale 1.2 and a doubled W at scale 2.1
    ("nearest-s1.2x2.1-4x3", (1, 4, 3, 1), dict(scale_factor=(1.2, 2.1), mode="nearest")),
]


def _record(shape, kwargs, rng):
    x = rng.standard_normal(shape)
    t_x = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    t_y = F.interpolate(t_x, **kwargs)
    v = rng.standard_normal(t_y.shape)  # NCHW
    (t_y * torch.tensor(v)).sum().backward()
    return {
        "x": x.tolist(),
        "v": v.transpose(0, 2, 3, 1).tolist(),
        "y": t_y.detach().numpy().transpose(0, 2, 3, 1).tolist(),
        "g": t_x.grad.numpy().transpose(0, 2, 3, 1).tolist(),
    }


def main() -> None:
    rng = np.random.default_rng(10)
    cases = []
    for name, shape, kwargs in CONFIGS:
        kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
        cases.append({"name": name, "kwargs": kw, **_record(shape, kwargs, rng)})
    meta = {"torch": torch.__version__, "command": __doc__.split("\n\n")[2].strip()}
    lines = [json.dumps(c) for c in cases]  # one case per line
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(f'{{"meta": {json.dumps(meta)},\n"cases": [\n' + ",\n".join(lines) + "]}\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
