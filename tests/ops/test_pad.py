"""pad2d: values against NumPy's np.pad, the folding VJP by hand, `value`, and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops
from cnnjax.ops import pad as pad_module

_NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize(
    ("mode", "padding"),
    [
        ("constant", ((1, 0), (2, 3))),
        ("reflect", ((2, 1), (3, 3))),
        ("replicate", ((4, 0), (1, 5))),
        ("circular", ((3, 2), (4, 1))),
    ],
)
def test_forward_matches_numpy_pad(mode, padding):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2))
    want = np.pad(x, ((0, 0), *padding, (0, 0)), mode=_NP_MODE[mode])
    np.testing.assert_array_equal(ops.pad2d(x, padding, mode=mode), want)


def test_vjp_of_ones_counts_how_often_each_cell_is_copied():
    """1-D along W, length 4, pads (3, 2): each input cell's gradient is its copy count."""
    x = jnp.zeros((1, 1, 4, 1))
    counts = {
        "constant": [1, 1, 1, 1],
        "reflect": [1, 3, 3, 2],  # y = x3 x2 x1 | x0 x1 x2 x3 | x2 x1
        "replicate": [4, 1, 1, 3],  # y = x0 x0 x0 | x0 x1 x2 x3 | x3 x3
        "circular": [2, 3, 2, 2],  # y = x1 x2 x3 | x0 x1 x2 x3 | x0 x1
    }
    for mode, want in counts.items():
        y, vjp = jax.vjp(lambda x, m=mode: ops.pad2d(x, ((0, 0), (3, 2)), mode=m), x)
        assert y.shape == (1, 1, 9, 1)
        got = vjp(jnp.ones_like(y))[0][0, 0, :, 0]
        np.testing.assert_array_equal(got, want, err_msg=mode)


def test_constant_value_fills_is_static_and_negative_pads_crop():
    x = jnp.arange(12.0).reshape(1, 3, 4, 1)
    y = ops.pad2d(x, ((1, -1), (-2, 1)), value=-7.0)
    np.testing.assert_array_equal(
        y[0, :, :, 0], [[-7.0, -7.0, -7.0], [2.0, 3.0, -7.0], [6.0, 7.0, -7.0]]
    )
    ct = jnp.arange(9.0).reshape(1, 3, 3, 1)
    (ct_x,) = jax.vjp(lambda x: ops.pad2d(x, ((1, -1), (-2, 1)), value=-7.0), x)[1](ct)
    # the cropped cells (last row, first two columns) get zero; the fill gets no gradient
    np.testing.assert_array_equal(ct_x[0, :, :, 0], [[0, 0, 3, 4], [0, 0, 6, 7], [0, 0, 0, 0]])
    assert pad_module._pad2d_fwd(x, ((1, 1), (0, 0)), "constant", 0.0)[1] is None


def test_accepts_array_likes_and_keeps_dtype():
    y = ops.pad2d([[[[1.0], [2.0]]]], 1, mode="replicate")
    assert y.shape == (1, 3, 4, 1)
    assert ops.pad2d(jnp.ones((1, 2, 2, 1), jnp.bfloat16), 1).dtype == jnp.bfloat16


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(x=np.ones((2, 3, 4)), padding=1), ValueError, "rank 4"),
        (dict(x=np.ones((1, 0, 4, 1)), padding=1), ValueError, "H >= 1"),
        (dict(x=np.ones((1, 3, 4, 1), np.int32), padding=1), TypeError, "floating"),
        (dict(x=np.ones((1, 3, 4, 1)), padding=1, mode="edge"), ValueError, "`mode`"),
        (dict(x=np.ones((1, 3, 4, 1)), padding="SAME"), TypeError, "`padding`"),
        (dict(x=np.ones((1, 3, 4, 1)), padding=(1, 2, 3)), TypeError, "`padding`"),
        (dict(x=np.ones((1, 3, 4, 1)), padding=-1, mode="reflect"), ValueError, "non-negative"),
        (dict(x=np.ones((1, 3, 4, 1)), padding=((3, 0), (0, 0)), mode="reflect"), ValueError, "< "),
        (
            dict(x=np.ones((1, 3, 4, 1)), padding=((0, 0), (0, 5)), mode="circular"),
            ValueError,
            "<=",
        ),
        (dict(x=np.ones((1, 3, 4, 1)), padding=((-2, -1), (0, 0))), ValueError, "crops all"),
        (dict(x=np.ones((1, 3, 4, 1)), padding=1, value="0"), TypeError, "`value`"),
    ],
)
def test_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ops.pad2d(kwargs.pop("x"), **kwargs)


def test_reflect_at_the_widest_and_circular_at_dim_are_accepted():
    x = jnp.arange(3.0).reshape(1, 3, 1, 1)
    y = ops.pad2d(x, ((2, 2), (0, 0)), mode="reflect")[0, :, 0, 0]
    np.testing.assert_array_equal(y, [2, 1, 0, 1, 2, 1, 0])
    y = ops.pad2d(x, ((3, 3), (0, 0)), mode="circular")[0, :, 0, 0]
    np.testing.assert_array_equal(y, [0, 1, 2, 0, 1, 2, 0, 1, 2])
