"""conv_transpose2d: conv2d's input gradient, its adjoint, lax.conv_transpose, and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cnnjax import ops

_CONFIGS = [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=3, padding=((2, 0), (1, 2)), output_padding=(2, 0)),
    dict(stride=(2, 1), dilation=2, padding=(1, 2), groups=2),
    dict(stride=1, dilation=3, output_padding=2),  # q >= s: two unreached zero rows
]


def _two(v):
    return (v, v) if isinstance(v, int) else v


def _arrays(seed, n, h, w, c_in, kernel, c_out_g):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.standard_normal((n, h, w, c_in))), jnp.asarray(
        rng.standard_normal((*kernel, c_out_g, c_in))
    )


@pytest.mark.parametrize("cfg", _CONFIGS)
def test_is_the_input_gradient_of_conv2d_and_its_adjoint(cfg):
    groups = cfg.get("groups", 1)
    y, w = _arrays(0, 2, 3, 4, 4, (3, 2), 3)
    out = ops.conv_transpose2d(y, w, **cfg)
    conv_kw = {k: v for k, v in cfg.items() if k != "output_padding"}
    # the conv2d (C_out -> C_in) whose input gradient this is: z of the rows y reaches (with
    # output_padding >= stride the rows past them get no input, so they are zero in `out`)
    n_out = [
        out.shape[a]
        - max(_two(cfg.get("output_padding", 0))[a - 1] - _two(cfg.get("stride", 1))[a - 1] + 1, 0)
        for a in (1, 2)
    ]
    z = jnp.asarray(np.random.default_rng(1).standard_normal((2, *n_out, 3 * groups)))
    _, conv_vjp = jax.vjp(lambda z: ops.conv2d(z, w, **conv_kw), z)
    np.testing.assert_allclose(out[:, : n_out[0], : n_out[1]], conv_vjp(y)[0], rtol=1e-12)
    assert float(jnp.sum(jnp.abs(out))) == pytest.approx(float(jnp.sum(jnp.abs(conv_vjp(y)[0]))))
    want = ops.conv2d_grad_input(y, w, z.shape, **conv_kw)
    np.testing.assert_allclose(out[:, : n_out[0], : n_out[1]], want, rtol=1e-12, atol=1e-12)
    # <conv2d(z, w), y> == <z, conv_transpose2d(y, w)>
    lhs = jnp.vdot(ops.conv2d(z, w, **conv_kw), y)
    np.testing.assert_allclose(lhs, jnp.vdot(z, out[:, : n_out[0], : n_out[1]]), rtol=1e-12)


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(3, 2, 1), (4, 2, 1), (2, 3, 1), (3, 1, 2)]
)
def test_same_matches_lax_conv_transpose(kernel, stride, dilation):
    x, w = _arrays(2, 2, 3, 5, 2, (kernel, kernel), 3)
    got = ops.conv_transpose2d(x, w, stride=stride, padding="SAME", dilation=dilation)
    want = lax.conv_transpose(
        x,
        w,
        (stride, stride),
        "SAME",
        rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        transpose_kernel=True,
    )
    assert got.shape == (2, 3 * stride, 5 * stride, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bias_and_output_padding_rows():
    x = jnp.ones((1, 2, 2, 1))
    y = ops.conv_transpose2d(
        x, jnp.ones((1, 1, 2, 1)), jnp.asarray([0.5, -1.0]), dilation=3, output_padding=2
    )
    assert y.shape == (1, 4, 4, 2)
    # the last two rows/columns are reached by no input: only the bias
    np.testing.assert_array_equal(y[0, :, :, 0], [[1.5, 1.5, 0.5, 0.5]] * 2 + [[0.5] * 4] * 2)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "match"),
    [
        ((2, 3, 4), (3, 3, 2, 2), {}, ValueError, "rank 4"),
        ((1, 3, 4, 2), (3, 3, 2), {}, ValueError, "`w` must have rank 4"),
        ((1, 3, 4, 2), (3, 3, 2, 3), {}, ValueError, "C_in=3"),
        ((1, 3, 4, 3), (3, 3, 2, 3), dict(groups=2), ValueError, "`groups`=2"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(stride=0), ValueError, "`stride`"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(stride=2, output_padding=2), ValueError, "max"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(output_padding=-1), ValueError, "output_padding"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(padding="FULL"), ValueError, "unknown `padding`"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(padding=-1), ValueError, "non-negative"),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(padding=3), ValueError, "crops every"),
        (
            (1, 3, 4, 2),
            (3, 3, 2, 2),
            dict(padding="SAME", stride=2, output_padding=1),
            ValueError,
            "SAME",
        ),
        ((1, 3, 4, 2), (3, 3, 2, 2), dict(groups=1.0), TypeError, "`groups`"),
    ],
)
def test_rejects_bad_arguments(x_shape, w_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        ops.conv_transpose2d(np.ones(x_shape), np.ones(w_shape), **kwargs)


def test_rejects_bias_shape_and_dtypes():
    x, w = np.ones((1, 3, 3, 2)), np.ones((3, 3, 2, 2))
    with pytest.raises(ValueError, match="`b` must have shape"):
        ops.conv_transpose2d(x, w, np.ones(3))
    with pytest.raises(TypeError, match="share one dtype"):
        ops.conv_transpose2d(x, w.astype(np.float32))
    with pytest.raises(TypeError, match="floating"):
        ops.conv_transpose2d(x.astype(np.int32), w)
