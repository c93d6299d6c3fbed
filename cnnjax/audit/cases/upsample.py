"""Cases for upsample2d: nearest and bilinear, size and scale_factor (integer, non-integer
like 1.7, per-axis pairs, below 1), sizes smaller than the input, H != W, align_corners both
ways, a one-row input and a one-row output (align_corners with H_out = 1), an axis whose size
the scale leaves unchanged (copied, as PyTorch does) and a source index a hair below an integer
(floored in float32, as PyTorch's ``floorf``).
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def _case(name, shape, *, fd=False, quick=True, **kwargs):
    return Case(
        f"upsample2d-{name}",
        "upsample2d",
        lambda r: (normal(r, *shape),),
        kwargs=kwargs,
        fd=fd,
        quick=quick,
    )


_BI = dict(mode="bilinear")
_AC = dict(mode="bilinear", align_corners=True)

CASES = [
    _case("nearest-x2-n2c3-3x4", (2, 3, 4, 3), scale_factor=2, fd=True),
    _case("nearest-s1.7-n2c2-4x3", (2, 4, 3, 2), scale_factor=1.7),
    _case("bilinear-s1.7x2.5-n2c2-3x4", (2, 3, 4, 2), scale_factor=(1.7, 2.5), fd=True, **_BI),
    _case("bilinear-size-down-n2c2-7x6", (2, 7, 6, 2), size=(4, 5), fd=True, **_BI),
    _case("bilinear-ac-size-n2c2-3x5", (2, 3, 5, 2), size=(7, 4), fd=True, **_AC),
    # H_out = floor(2 * 0.87) = 1; W_out = floor(6 * 1.08) = 6 = W, so W is copied
    _case("bilinear-s0.87x1.08-n2c2-2x6", (2, 2, 6, 2), scale_factor=(0.87, 1.08), **_BI),
    # audit-only
    _case("nearest-size-down-n2c2-7x5", (2, 7, 5, 2), size=(3, 4), quick=False),
    _case("nearest-size-up-n1c1-3x2", (1, 3, 2, 1), size=(7, 5), quick=False),
    _case("nearest-s0.6-n2c2-8x7", (2, 8, 7, 2), scale_factor=0.6, quick=False),
    _case("nearest-s3x1-n2c2-3x4", (2, 3, 4, 2), scale_factor=(3, 1), quick=False),
    _case("bilinear-x2-n2c3-4x4", (2, 4, 4, 3), scale_factor=2, quick=False, **_BI),
    _case("bilinear-s0.55-n2c2-9x7", (2, 9, 7, 2), scale_factor=0.55, quick=False, **_BI),
    _case("bilinear-ac-s1.7-n2c2-4x3", (2, 4, 3, 2), scale_factor=1.7, quick=False, **_AC),
    _case("bilinear-ac-out1-n2c2-4x5", (2, 4, 5, 2), size=(1, 3), quick=False, **_AC),
    _case("bilinear-h1-n2c2-1x4", (2, 1, 4, 2), size=(3, 9), quick=False, **_BI),
    # W column 2's source index is 1 - 1e-8: floorf makes it 1
    _case(
        "bilinear-floorf-n1c2-2x3",
        (1, 2, 3, 2),
        scale_factor=(1.3, 2.5 / (1.5 - 1e-8)),
        quick=False,
        **_BI,
    ),
    _case("bilinear-size-n4c8-8x8", (4, 8, 8, 8), size=(16, 12), quick=False, **_BI),
]
