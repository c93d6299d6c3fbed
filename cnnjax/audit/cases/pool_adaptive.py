"""Cases for adaptive_avg_pool2d, adaptive_max_pool2d and global_max_pool2d.

Awkward bins: sizes that do not divide the input (7 -> 3 and 5 -> 4 overlap), output larger
than the input (bins repeat rows), H != W, N = 1, C = 1, an int ``output_size``. Max-pool
inputs are tie-free (``distinct``, < 400 elements so bfloat16 stays tie-free, as in pool.py).
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal_args, tie_free_args

_ADAPTIVE = [
    # (name, x shape, output_size, quick, fd)
    ("7x5to3x4-n2c2", (2, 7, 5, 2), (3, 4), True, True),
    ("6x6to2-n1c3", (1, 6, 6, 3), 2, True, False),
    ("3x2to5x4-upsample-n2c1", (2, 3, 2, 1), (5, 4), False, True),
    ("5x7to1x1-n2c2", (2, 5, 7, 2), 1, False, False),
    ("4x9to4x2-n1c2", (1, 4, 9, 2), (4, 2), False, False),
]

CASES = [
    *(
        Case(
            f"adaptive_avg_pool2d-{name}",
            "adaptive_avg_pool2d",
            normal_args(*shape),
            {"output_size": out},
            fd=fd,
            quick=quick,
        )
        for name, shape, out, quick, fd in _ADAPTIVE
    ),
    *(
        Case(
            f"adaptive_max_pool2d-{name}",
            "adaptive_max_pool2d",
            tie_free_args(*shape),
            {"output_size": out},
            fd=fd,
            quick=quick,
        )
        for name, shape, out, quick, fd in _ADAPTIVE
    ),
    Case("global_max_pool2d-n2c3-4x5", "global_max_pool2d", tie_free_args(2, 4, 5, 3), fd=True),
    Case("global_max_pool2d-n1c1-1x7", "global_max_pool2d", tie_free_args(1, 1, 7, 1), quick=False),
]
