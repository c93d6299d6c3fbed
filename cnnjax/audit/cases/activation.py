"""Cases for the elementwise activations."""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import off_kink

CASES = [
    Case("relu-nhwc-2x5x3x4", "relu", lambda r: (off_kink(r, 2, 5, 3, 4),), fd=True),
    Case("relu-vector-7", "relu", lambda r: (off_kink(r, 7),)),
]
