"""The round-2 layers: each equals a direct call of its op, shapes flow through init."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cnnjax
from cnnjax import nn

X = jax.random.normal(jax.random.key(0), (2, 7, 6, 4))


@pytest.mark.parametrize(
    ("layer", "direct"),
    [
        (nn.Upsample(scale_factor=2), lambda x, p: cnnjax.upsample2d(x, scale_factor=2)),
        (
            nn.Upsample(size=(5, 9), mode="bilinear", align_corners=True),
            lambda x, p: cnnjax.upsample2d(x, size=(5, 9), mode="bilinear", align_corners=True),
        ),
        (nn.Pad2d((1, 2), mode="reflect"), lambda x, p: cnnjax.pad2d(x, (1, 2), mode="reflect")),
        (nn.AdaptiveAvgPool2d((3, 4)), lambda x, p: cnnjax.adaptive_avg_pool2d(x, (3, 4))),
        (nn.AdaptiveMaxPool2d(2), lambda x, p: cnnjax.adaptive_max_pool2d(x, 2)),
        (nn.GlobalMaxPool2d(), lambda x, p: cnnjax.global_max_pool2d(x)),
        (
            nn.GroupNorm(2),
            lambda x, p: cnnjax.group_norm(x, p["scale"], p["bias"], num_groups=2),
        ),
        (nn.InstanceNorm(affine=False), lambda x, p: cnnjax.instance_norm(x, None, None)),
        (nn.Silu(), lambda x, p: cnnjax.silu(x)),
        (nn.Relu6(), lambda x, p: cnnjax.relu6(x)),
        (nn.Hardswish(), lambda x, p: cnnjax.hardswish(x)),
        (nn.PRelu(4), lambda x, p: cnnjax.prelu(x, p["alpha"])),
        (
            nn.ConvTranspose2d(3, 3, stride=2, padding=1, output_padding=1),
            lambda x, p: cnnjax.conv_transpose2d(
                x, p["w"], p["b"], stride=2, padding=1, output_padding=1
            ),
        ),
    ],
    ids=lambda v: nn.layer_name(v) if isinstance(v, nn.Layer) else "",
)
def test_layer_equals_its_op_and_init_gives_the_output_shape(layer, direct):
    params, state, out_shape = layer.init(jax.random.key(1), X.shape[1:], dtype=X.dtype)
    y, _ = layer.apply(params, state, X)
    np.testing.assert_array_equal(y, direct(X, params))
    assert y.shape[1:] == out_shape


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_mode_pads_by_pad2d_then_convolves_unpadded(mode):
    layer = nn.Conv2d(3, 3, stride=2, padding="SAME", padding_mode=mode)
    params, state, out_shape = layer.init(jax.random.key(1), X.shape[1:])
    y, _ = layer.apply(params, state, X)
    # SAME for H=7, W=6, k=3, s=2: pads (1, 1) and (0, 1)
    want = cnnjax.conv2d(
        cnnjax.pad2d(X, ((1, 1), (0, 1)), mode=mode), params["w"], params["b"], stride=2
    )
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert y.shape[1:] == out_shape == (4, 3, 3)


def test_conv2d_rejects_an_unknown_padding_mode():
    with pytest.raises(ValueError, match=r"Conv2d: unknown `padding_mode` 'mirror'"):
        nn.Conv2d(3, 3, padding_mode="mirror")


def test_skip_concatenates_its_input_with_the_inner_output():
    inner = nn.Sequential([nn.MaxPool2d(2), nn.Conv2d(5, 3), nn.ConvTranspose2d(2, 2, stride=2)])
    block = nn.Skip(inner)
    x = X[:, :6, :6, :]
    params, state, out_shape = block.init(jax.random.key(1), x.shape[1:])
    y, _ = block.apply(params, state, x)
    inner_y, _ = inner.apply(params["inner"], state["inner"], x)
    np.testing.assert_array_equal(y, jnp.concatenate([x, inner_y], axis=-1))
    assert out_shape == (6, 6, 6)
    with pytest.raises(ValueError, match=r"Skip: `inner` maps \(7, 6, 4\) to \(3, 3, 4\)"):
        nn.Skip(nn.MaxPool2d(2)).init(jax.random.key(1), X.shape[1:])


def test_prelu_learns_its_slope_through_the_hand_vjp():
    layer = nn.PRelu()
    params, state, _ = layer.init(jax.random.key(1), X.shape[1:])

    def loss(p, ops):
        return jnp.sum(layer.apply(p, state, X, ops=ops)[0])

    hand, auto = jax.grad(loss)(params, cnnjax.ops), jax.grad(loss)(params, cnnjax.reference)
    assert hand["alpha"].shape == (1,)
    np.testing.assert_allclose(hand["alpha"], jnp.sum(jnp.minimum(X, 0.0)), rtol=1e-5)
    np.testing.assert_allclose(hand["alpha"], auto["alpha"], rtol=1e-5)
    with pytest.raises(ValueError, match=r"PRelu: `num_parameters`=3 must be 1 or"):
        nn.PRelu(3).init(jax.random.key(1), X.shape[1:])


def test_group_norm_layer_checks_its_groups():
    with pytest.raises(ValueError, match=r"GroupNorm: channels C=4 must be divisible by"):
        nn.GroupNorm(3).init(jax.random.key(1), X.shape[1:])
