"""Cases for the pool ops: overlapping windows, strides that do not divide H, SAME with an even
window, asymmetric padding, H != W, N = 1, C = 1, full-input and non-square windows; round 2's
ceil-mode windows hanging off the edge, dilation with stride, and divisor_override.

Max-pool inputs are tie-free (``distinct``, values ``1e-2`` apart). Each max case keeps fewer
than 400 elements, so every value lies in (-2, 2), where bfloat16's spacing (<= 2**-7) is below
the gap and the bfloat16 cast stays tie-free too.
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal_args, tie_free_args

_MAX = [
    ("k2-s2-n2c3-6x6", (2, 6, 6, 3), dict(window=2), True),
    ("k3-s2-overlap-n2c2-8x7", (2, 8, 7, 2), dict(window=3, stride=2), False),
    ("k3-s1-pad1-n1c2-5x5", (1, 5, 5, 2), dict(window=3, stride=1, padding=1), True),
    ("k2-s2-same-n2c2-5x7", (2, 5, 7, 2), dict(window=2, stride=2, padding="SAME"), False),
    ("k3-s2-same-n1c3-7x6", (1, 7, 6, 3), dict(window=3, stride=2, padding="SAME"), False),
    (
        "k3x2-s2x1-asym-n2c2-7x5",
        (2, 7, 5, 2),
        dict(window=(3, 2), stride=(2, 1), padding=((2, 0), (1, 0))),
        True,
    ),
    ("k2-s3-pad-hw-n2c2-8x9", (2, 8, 9, 2), dict(window=2, stride=3, padding=(1, 0)), False),
    ("k1x3-s2x1-n2c1-5x6", (2, 5, 6, 1), dict(window=(1, 3), stride=(2, 1)), False),
    ("full-window-n3c1-4x5", (3, 4, 5, 1), dict(window=(4, 5)), False),
    # round 2: ceil-mode windows hanging off the edge, dilation with stride
    ("k2-s2-ceil-n2c2-5x7", (2, 5, 7, 2), dict(window=2, ceil_mode=True), True),
    (
        "k3-s2-pad1-ceil-n1c2-6x8",
        (1, 6, 8, 2),
        dict(window=3, stride=2, padding=1, ceil_mode=True),
        False,
    ),
    ("k2-d2-s1-n2c2-6x5", (2, 6, 5, 2), dict(window=2, stride=1, dilation=2), True),
    (
        "k3x2-d2x3-s2x1-same-n1c2-9x8",
        (1, 9, 8, 2),
        dict(window=(3, 2), stride=(2, 1), dilation=(2, 3), padding="SAME"),
        False,
    ),
    (
        "k3-d2-s3-asym-ceil-n1c3-8x9",
        (1, 8, 9, 3),
        dict(window=3, stride=3, dilation=2, padding=((2, 1), (0, 3)), ceil_mode=True),
        False,
    ),
    (
        "k4-s3-p2-chain-ceil-n1c1-9x10",
        (1, 9, 10, 1),
        dict(window=4, stride=3, padding=2, ceil_mode=True),
        False,
    ),
]

_AVG = [
    ("k2-s2-n2c3-6x6", (2, 6, 6, 3), dict(window=2), True),
    ("k3-s2-overlap-n2c2-8x7", (2, 8, 7, 2), dict(window=3, stride=2), False),
    ("k3-s1-pad1-n1c2-5x5", (1, 5, 5, 2), dict(window=3, stride=1, padding=1), True),
    ("k2-s2-same-n2c2-5x7", (2, 5, 7, 2), dict(window=2, stride=2, padding="SAME"), False),
    (
        "k3x2-s2x1-asym-n2c2-7x5",
        (2, 7, 5, 2),
        dict(window=(3, 2), stride=(2, 1), padding=((2, 0), (1, 0))),
        True,
    ),
    ("k3-s3-pad-hw-n2c2-8x9", (2, 8, 9, 2), dict(window=3, stride=3, padding=(1, 2)), False),
    ("full-window-n1c1-4x5", (1, 4, 5, 1), dict(window=(4, 5)), False),
    # round 2: ceil-mode windows hanging past the padding, divisor_override
    ("k2-s2-ceil-n2c2-5x7", (2, 5, 7, 2), dict(window=2, ceil_mode=True), True),
    (
        "k3-s2-pad1-ceil-n1c2-6x8",
        (1, 6, 8, 2),
        dict(window=3, stride=2, padding=1, ceil_mode=True),
        False,
    ),
    (
        "k3x2-s2-asym-ceil-n1c2-8x7",
        (1, 8, 7, 2),
        dict(window=(3, 2), stride=2, padding=((1, 2), (1, 0)), ceil_mode=True),
        False,
    ),
    (
        "k3-s2-same-div5-n2c1-7x6",
        (2, 7, 6, 1),
        dict(window=3, stride=2, padding="SAME", divisor_override=5),
        False,
    ),
    (
        "k2-s3-pad1-ceil-div3-n1c2-7x8",
        (1, 7, 8, 2),
        dict(window=2, stride=3, padding=1, ceil_mode=True, divisor_override=3),
        False,
    ),
]

# Audit-only (quick=False): each repeats a feature a quick neighbour already covers.
_AUDIT_ONLY = {
    "max_pool2d-k3-s2-same-n1c3-7x6",
    "max_pool2d-k3-s2-pad1-ceil-n1c2-6x8",
    "max_pool2d-k3x2-d2x3-s2x1-same-n1c2-9x8",
    "avg_pool2d-k3-s2-pad1-ceil-n1c2-6x8-incl",
    "avg_pool2d-k3-s2-pad1-ceil-n1c2-6x8-excl",
    "avg_pool2d-k3x2-s2-asym-ceil-n1c2-8x7-incl",
    "avg_pool2d-k3-s2-same-div5-n2c1-7x6-incl",
    "avg_pool2d-k3-s2-same-div5-n2c1-7x6-excl",
    "avg_pool2d-k2-s3-pad1-ceil-div3-n1c2-7x8-excl",
    "avg_pool2d-k2-s2-same-n2c2-5x7-incl",
    "avg_pool2d-k3-s3-pad-hw-n2c2-8x9-incl",
}

CASES = [
    *(
        Case(
            f"max_pool2d-{name}",
            "max_pool2d",
            tie_free_args(*shape),
            kwargs,
            fd=fd,
            quick=f"max_pool2d-{name}" not in _AUDIT_ONLY,
        )
        for name, shape, kwargs, fd in _MAX
    ),
    *(
        Case(
            f"avg_pool2d-{name}-{tag}",
            "avg_pool2d",
            normal_args(*shape),
            {**kwargs, "count_include_pad": include},
            fd=fd,
            quick=f"avg_pool2d-{name}-{tag}" not in _AUDIT_ONLY,
        )
        for name, shape, kwargs, fd in _AVG
        for tag, include in (("incl", True), ("excl", False))
        if include or kwargs.get("padding", "VALID") != "VALID" or kwargs.get("ceil_mode")
    ),
    Case("global_avg_pool2d-n2c3-5x4", "global_avg_pool2d", normal_args(2, 5, 4, 3), fd=True),
    Case("global_avg_pool2d-n1c1-3x3", "global_avg_pool2d", normal_args(1, 3, 3, 1)),
]
