"""Cases for flatten."""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal

CASES = [
    Case("flatten-rank2-3x5", "flatten", lambda r: (normal(r, 3, 5),)),
    Case("flatten-rank3-2x3x4", "flatten", lambda r: (normal(r, 2, 3, 4),)),
    Case("flatten-nhwc-2x3x1x4", "flatten", lambda r: (normal(r, 2, 3, 1, 4),), fd=True),
    Case("flatten-nhwc-1x2x2x1", "flatten", lambda r: (normal(r, 1, 2, 2, 1),)),
    Case("flatten-rank1-5", "flatten", lambda r: (normal(r, 5),)),
]
