"""upsample2d: PyTorch's index rules by hand, the scatter-add VJP, and validation."""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference
from cnnjax.ops import upsample as upsample_module

# F.interpolate's outputs and gradients, recorded by benchmarks/torch_parity/record_upsample.py
_TORCH = json.loads((pathlib.Path(__file__).parent / "data" / "upsample_torch.json").read_text())


def _row(values):
    return jnp.asarray(values, jnp.float64).reshape(1, 1, -1, 1)


def test_nearest_picks_floor_of_dst_times_ratio():
    x = _row(np.arange(5.0))
    # size: src = floor(dst * 5/3) = 0, 1, 3
    np.testing.assert_array_equal(ops.upsample2d(x, size=(1, 3))[0, 0, :, 0], [0, 1, 3])
    # scale_factor 1.7: W_out = floor(8.5) = 8, src = floor(dst / 1.7)
    got = ops.upsample2d(x, scale_factor=(1, 1.7))[0, 0, :, 0]
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 2, 2, 3, 4])
    # PyTorch's nearest_idx: an unchanged or doubled size ignores the scale (1.1 -> 5, 2.1 -> 10)
    np.testing.assert_array_equal(
        ops.upsample2d(x, scale_factor=(1, 1.1))[0, 0, :, 0], x[0, 0, :, 0]
    )
    got = ops.upsample2d(x, scale_factor=(1, 2.1))[0, 0, :, 0]
    np.testing.assert_array_equal(got, np.arange(10) // 2)


def test_bilinear_half_pixel_and_align_corners():
    x = _row([0.0, 4.0])
    # half-pixel: src = (dst + 0.5) / 2 - 0.5, clamped at 0: 0, 0.25, 0.75, 1.25 -> clamp i1
    got = ops.upsample2d(x, scale_factor=(1, 2), mode="bilinear")[0, 0, :, 0]
    np.testing.assert_allclose(got, [0.0, 1.0, 3.0, 4.0])
    got = ops.upsample2d(x, size=(1, 5), mode="bilinear", align_corners=True)[0, 0, :, 0]
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("fn", [ops.upsample2d, reference.upsample2d], ids=["op", "reference"])
@pytest.mark.parametrize("case", _TORCH["cases"], ids=lambda c: c["name"])
def test_matches_recorded_pytorch(case, fn):
    # an unchanged size is copied whatever the scale says; the bilinear floor is floorf's
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}
    x = jnp.asarray(case["x"], jnp.float64)
    y, vjp = jax.vjp(lambda a: fn(a, **kwargs), x)
    np.testing.assert_allclose(y, case["y"], rtol=0, atol=1e-13, err_msg="forward")
    (g,) = vjp(jnp.asarray(case["v"], jnp.float64))
    np.testing.assert_allclose(g, case["g"], rtol=0, atol=1e-13, err_msg="gradient")


def test_vjp_scatters_cotangents_with_the_weights():
    x = _row([0.0, 4.0, 1.0])
    f = lambda x: ops.upsample2d(x, size=(1, 5), mode="bilinear", align_corners=True)  # noqa: E731
    (ct_x,) = jax.vjp(f, x)[1](_row([1.0, 10.0, 100.0, 1000.0, 10000.0]))
    # src = 0, 0.5, 1, 1.5, 2: cell 0 gets 1 + 5, cell 1 5 + 100 + 500, cell 2 500 + 10000
    np.testing.assert_allclose(ct_x[0, 0, :, 0], [6.0, 605.0, 10500.0])
    (ct_x,) = jax.vjp(lambda x: ops.upsample2d(x, size=(1, 2)), x)[1](_row([1.0, 2.0]))
    np.testing.assert_array_equal(ct_x[0, 0, :, 0], [1.0, 2.0, 0.0])  # src 0, floor(1.5)=1
    assert (
        upsample_module._upsample2d_fwd(
            x, upsample_module._plan("t", (1, 3), (1, 2), None, "nearest", False)
        )[1]
        is None
    )


def test_infinity_stays_in_its_cells():
    x = _row([1.0, jnp.inf, 2.0, 3.0, 4.0])
    y = ops.upsample2d(x, scale_factor=(1, 2), mode="bilinear")[0, 0, :, 0]
    # cells whose neighbours exclude the inf stay finite (a dense matrix product would spread
    # 0 * inf = NaN over the whole row); its neighbours are inf/NaN as in PyTorch
    assert np.isfinite(np.asarray(y)[5:]).all()
    assert not np.isfinite(np.asarray(y)[1:4]).any()


@pytest.mark.parametrize(
    ("x_shape", "kwargs", "error", "match"),
    [
        ((1, 3, 4), dict(size=2), ValueError, "rank 4"),
        ((1, 3, 4, 1), dict(), ValueError, "exactly one"),
        ((1, 3, 4, 1), dict(size=2, scale_factor=2), ValueError, "exactly one"),
        ((1, 3, 4, 1), dict(size=(0, 2)), ValueError, "`size`"),
        ((1, 3, 4, 1), dict(size=2.5), TypeError, "`size`"),
        ((1, 3, 4, 1), dict(scale_factor=-1.0), ValueError, "`scale_factor`"),
        ((1, 3, 4, 1), dict(scale_factor="2"), TypeError, "`scale_factor`"),
        ((1, 3, 4, 1), dict(scale_factor=0.2), ValueError, "empty output"),
        ((1, 3, 4, 1), dict(size=2, mode="bicubic"), ValueError, "`mode`"),
        ((1, 3, 4, 1), dict(size=2, align_corners=True), ValueError, "bilinear"),
        ((1, 3, 4, 1), dict(size=2, mode="bilinear", align_corners=1), TypeError, "bool"),
    ],
)
def test_rejects_bad_arguments(x_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        ops.upsample2d(np.ones(x_shape), **kwargs)


def test_array_likes_and_low_precision():
    assert ops.upsample2d([[[[1.0], [2.0]]]], scale_factor=2).shape == (1, 2, 4, 1)
    y = ops.upsample2d(jnp.ones((1, 2, 2, 1), jnp.bfloat16), size=3, mode="bilinear")
    assert y.dtype == jnp.bfloat16
    with pytest.raises(TypeError, match="floating"):
        ops.upsample2d(np.ones((1, 2, 2, 1), np.int32), size=3)
