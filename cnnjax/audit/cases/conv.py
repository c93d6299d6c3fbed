"""Cases for conv2d: the awkward configurations (JAX's ``testConvGeneralDilatedGrad`` in spirit).

Strides that do not divide H (the stride-remainder rows get zero input gradient), asymmetric
explicit and SAME padding with even kernels, dilation with stride, groups and depthwise
convolutions with a channel multiplier, 1x1 and full-size kernels, H != W, N = 1, C = 1, no
bias, and every padding form. Quick cases stay tiny (spatial <= 9, channels <= 6).
"""

from __future__ import annotations

from cnnjax.audit.cases._case import Case
from cnnjax.audit.cases._inputs import normal


def kernel_case(op, name, x_shape, kernel, c_out, *, bias=True, fd=False, quick=True, **kwargs):
    """A case of ``op`` (``"conv2d"`` or ``"conv_transpose2d"``) on ``x`` of ``x_shape``
    (N, H, W, C_in) with a ``kernel`` (KH, KW) kernel and ``c_out`` output channels.

    The kernel is HWIO ``(KH, KW, C_in/groups, C_out)`` for conv2d and, for conv_transpose2d,
    that of the conv2d it transposes, ``(KH, KW, C_out/groups, C_in)``; both are scaled by
    ``(KH * KW * C_in/groups) ** -0.5``. Arguments ``(x, w, b)``, or ``(x, w)`` without bias.
    """
    n, h, w, c_in = x_shape
    groups = kwargs.get("groups", 1)
    io = (c_in // groups, c_out) if op == "conv2d" else (c_out // groups, c_in)

    def make_args(rng):
        x = normal(rng, n, h, w, c_in)
        k = normal(rng, *kernel, *io, scale=(kernel[0] * kernel[1] * c_in // groups) ** -0.5)
        return (x, k, normal(rng, c_out)) if bias else (x, k)

    return Case(
        name,
        op,
        make_args,
        kwargs=kwargs,
        argnums=(0, 1, 2) if bias else (0, 1),
        fd=fd,
        quick=quick,
    )


def _case(name, x_shape, kernel, c_out, **options):
    return kernel_case("conv2d", name, x_shape, kernel, c_out, **options)


CASES = [
    _case("conv2d-k3-s1-valid-n2c3", (2, 6, 5, 3), (3, 3), 4, fd=True),
    _case("conv2d-k3-s2-same-n2c3", (2, 7, 6, 3), (3, 3), 4, stride=2, padding="SAME", fd=True),
    # stride 2 leaves one trailing row and column that no window reaches (r = 1)
    _case("conv2d-k3-s2-valid-remainder-h8w6", (2, 8, 6, 2), (3, 3), 3, stride=2),
    _case(
        "conv2d-k3-s3-asympad-h7w5",
        (2, 7, 5, 2),
        (3, 3),
        3,
        stride=3,
        padding=((2, 0), (1, 3)),
        fd=True,
    ),
    _case("conv2d-k4x2-s2-same-even", (2, 7, 6, 2), (4, 2), 3, stride=2, padding="SAME"),
    _case(
        "conv2d-k3-d2-s2-same-h9w8",
        (2, 9, 8, 2),
        (3, 3),
        3,
        stride=2,
        dilation=2,
        padding="SAME",
        fd=True,
    ),
    _case("conv2d-k3-g2-c4o6", (2, 6, 5, 4), (3, 3), 6, groups=2, padding=(1, 0)),
    _case(
        "conv2d-k3-depthwise-mult2-s2-c3",
        (2, 7, 6, 3),
        (3, 3),
        6,
        groups=3,
        stride=2,
        padding="SAME",
        fd=True,
    ),
    _case("conv2d-k1-s2-h7w6", (2, 7, 6, 3), (1, 1), 2, stride=2),
    _case("conv2d-kfull-padpair-h5w4", (2, 5, 4, 2), (5, 4), 2, padding=(1, 2)),
    _case("conv2d-k3-s2-pad2-n1c1", (1, 6, 9, 1), (3, 3), 1, stride=2, padding=2),
    # one input channel and >= 16 taps: CPU forward as a patch-matrix product; C_out = 1
    # makes the input gradient one too
    _case("conv2d-k5-c1-s2-same-h9w8", (2, 9, 8, 1), (5, 5), 6, stride=2, padding="SAME", fd=True),
    _case(
        "conv2d-k4x5-o1-c3-asympad-h8w9", (2, 8, 9, 3), (4, 5), 1, padding=((2, 1), (3, 0)), fd=True
    ),
    _case(
        "conv2d-nobias-k3-s2-same",
        (2, 7, 6, 3),
        (3, 3),
        4,
        bias=False,
        stride=2,
        padding="SAME",
        fd=True,
    ),
    _case(
        "conv2d-nobias-g2-d2-pad-asym",
        (2, 8, 7, 4),
        (2, 3),
        4,
        bias=False,
        groups=2,
        dilation=2,
        padding=((0, 1), (2, 1)),
    ),
    _case(
        "conv2d-k2x3-s2-d3x1-g2",
        (2, 9, 8, 4),
        (2, 3),
        2,
        stride=2,
        dilation=(3, 1),
        groups=2,
        padding=((1, 2), (0, 1)),
    ),
    # audit-only: variations the quick cases above already cover in kind
    _case("conv2d-k3x2-s3x2-remainder-h9w8", (1, 9, 8, 2), (3, 2), 3, stride=(3, 2), quick=False),
    _case("conv2d-k2-s1-same-even", (2, 5, 6, 3), (2, 2), 2, padding="SAME", quick=False),
    _case(
        "conv2d-k3-d2x1-pad1-h8w6", (2, 8, 6, 3), (3, 3), 2, dilation=(2, 1), padding=1, quick=False
    ),
    _case("conv2d-k3-depthwise-c3", (2, 6, 6, 3), (3, 3), 3, groups=3, padding="SAME", quick=False),
    _case("conv2d-k1-s1-n2c5", (2, 4, 5, 5), (1, 1), 3, quick=False),
    _case("conv2d-kfull-h5w4", (3, 5, 4, 2), (5, 4), 3, quick=False),
    # heavier extras
    _case("conv2d-k3-s1-same-n4c16-h16", (4, 16, 16, 16), (3, 3), 16, padding="SAME", quick=False),
    _case(
        "conv2d-k5-s2-d2-g4-n3c8-h17w13",
        (3, 17, 13, 8),
        (5, 5),
        12,
        stride=2,
        dilation=2,
        groups=4,
        padding="SAME",
        quick=False,
    ),
    _case(
        "conv2d-k3-depthwise-mult3-s2-c8-h15",
        (2, 15, 15, 8),
        (3, 3),
        24,
        groups=8,
        stride=2,
        padding=1,
        quick=False,
    ),
]
