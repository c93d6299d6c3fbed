"""Cases for pad2d: every mode, asymmetric pads, H != W, reflect as wide as the input allows
(pad = dim - 1), circular with pad = dim, replicate far past the edge, constant with a fill
and with negative pads (cropping).
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def _case(name, shape, padding, mode, *, fd=False, quick=True, **kwargs):
    return Case(
        f"pad2d-{name}",
        "pad2d",
        lambda r: (normal(r, *shape),),
        kwargs=dict(padding=padding, mode=mode, **kwargs),
        fd=fd,
        quick=quick,
    )


CASES = [
    _case("constant-asym-n2c3-5x4", (2, 5, 4, 3), ((1, 2), (0, 3)), "constant", fd=True),
    _case("constant-value-crop-n1c2-6x5", (1, 6, 5, 2), ((-2, 1), (3, -1)), "constant", value=1.5),
    # reflect as wide as the input allows: pad = dim - 1 on every side
    _case("reflect-max-n2c2-4x3", (2, 4, 3, 2), ((3, 3), (2, 2)), "reflect", fd=True),
    _case("replicate-wide-n2c1-3x4", (2, 3, 4, 1), ((5, 1), (0, 6)), "replicate", fd=True),
    # circular with pad = dim: the whole input wraps onto each side
    _case("circular-full-n2c2-3x4", (2, 3, 4, 2), ((3, 3), (4, 0)), "circular", fd=True),
    # audit-only
    _case("constant-int-n2c2-4x4", (2, 4, 4, 2), 2, "constant", quick=False),
    _case("reflect-pair-n1c3-5x7", (1, 5, 7, 3), (2, 3), "reflect", quick=False),
    _case("reflect-h1-zero-n2c2-1x6", (2, 1, 6, 2), ((0, 0), (5, 4)), "reflect", quick=False),
    _case("replicate-1x1-n2c2", (2, 1, 1, 2), ((2, 3), (1, 4)), "replicate", quick=False),
    _case("circular-asym-n2c3-5x6", (2, 5, 6, 3), ((1, 4), (6, 2)), "circular", quick=False),
    _case("constant-crop-only-n2c2-6x6", (2, 6, 6, 2), -1, "constant", quick=False),
    _case("replicate-n4c8-12x10", (4, 12, 10, 8), ((3, 2), (1, 4)), "replicate", quick=False),
]
