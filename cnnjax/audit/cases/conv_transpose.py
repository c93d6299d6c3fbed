"""Cases for conv_transpose2d: output_padding at its maximum (also past the stride, under
dilation), stride > kernel, dilation, groups with one group per channel, asymmetric and SAME
padding (crop and grow), H != W, N = 1, no bias.
"""

from __future__ import annotations

from cnnjax.audit.cases.conv import kernel_case


def _case(name, x_shape, kernel, c_out, **options):
    """``x`` (N, H, W, C_in), ``kernel`` (KH, KW), ``C_out`` output channels."""
    return kernel_case(
        "conv_transpose2d", f"conv_transpose2d-{name}", x_shape, kernel, c_out, **options
    )


CASES = [
    _case(
        "k3-s2-pad1-op1-max-n2c3",
        (2, 4, 3, 3),
        (3, 3),
        4,
        stride=2,
        padding=1,
        output_padding=1,
        fd=True,
    ),
    _case("k2-s3-gt-kernel-h3w4", (2, 3, 4, 2), (2, 2), 3, stride=3, output_padding=(2, 1)),
    # output_padding 2 >= stride 1 (dilation 3 allows it) with crop (1, 2): on H one row
    # is given back and one lies past the full output (zero); on W both are given back
    _case(
        "k2-d3-s1-op2-past-stride",
        (1, 3, 4, 2),
        (2, 2),
        2,
        dilation=3,
        output_padding=2,
        padding=(1, 2),
        fd=True,
    ),
    _case(
        "k3-depthwise-s2-c3", (2, 4, 4, 3), (3, 3), 3, groups=3, stride=2, padding=(1, 0), fd=True
    ),
    _case(
        "k4x3-s2-asym-nobias",
        (2, 3, 4, 2),
        (4, 3),
        3,
        bias=False,
        stride=2,
        padding=((2, 1), (0, 3)),
        fd=True,
    ),
    _case("k3-s2-same-h3w4", (2, 3, 4, 2), (3, 3), 2, stride=2, padding="SAME"),
    # audit-only
    _case("k2-s3-same-grow-h3w2", (2, 3, 2, 2), (2, 2), 2, stride=3, padding="SAME", quick=False),
    _case("k4-s2-same-even-n1", (1, 3, 5, 2), (4, 4), 3, stride=2, padding="SAME", quick=False),
    _case(
        "k3-d2-s2-op1-g2",
        (2, 4, 3, 4),
        (3, 3),
        6,
        groups=2,
        stride=2,
        dilation=2,
        output_padding=1,
        padding=2,
        quick=False,
    ),
    _case("k1-s2-op1-c5", (2, 3, 3, 5), (1, 1), 2, stride=2, output_padding=1, quick=False),
    _case("k5x2-valid-n1c1", (1, 4, 6, 1), (5, 2), 1, padding="VALID", quick=False),
    _case("k3-depthwise-mult2-s1-pad1", (2, 5, 4, 3), (3, 3), 6, groups=3, padding=1, quick=False),
    _case(
        "k3-s2-d3-op2-max",
        (2, 3, 3, 2),
        (3, 3),
        2,
        stride=2,
        dilation=3,
        output_padding=2,
        quick=False,
    ),
    _case("k4-s2-pad1-n4c16-h8", (4, 8, 8, 16), (4, 4), 8, stride=2, padding=1, quick=False),
]
