"""The model zoo: names, shapes through init, parameter counts, a forward pass."""

import math

import jax
import jax.numpy as jnp
import pytest

import cnnjax
from cnnjax.nn import zoo

NAMES = ["digits_cnn", "digits_mobilenet", "lenet5", "vgg_small", "resnet20"]


def _count(params):
    return sum(math.prod(p.shape) for p in jax.tree.leaves(params))


def test_registry():
    assert sorted(zoo.MODELS) == sorted(NAMES) == sorted(zoo.INPUT_SHAPES)
    assert zoo.INPUT_SHAPES["digits_cnn"] == zoo.INPUT_SHAPES["digits_mobilenet"] == (8, 8, 1)
    assert zoo.INPUT_SHAPES["lenet5"] == (28, 28, 1)
    assert zoo.INPUT_SHAPES["vgg_small"] == zoo.INPUT_SHAPES["resnet20"] == (32, 32, 3)
    with pytest.raises(ValueError, match=r"get_model: unknown model 'resnet50'; expected one of"):
        zoo.get_model("resnet50")
    with pytest.raises(ValueError, match=r"get_model: `num_classes` must be >= 1, got 0"):
        zoo.get_model("lenet5", num_classes=0)


@pytest.mark.parametrize("name", NAMES)
def test_init_shapes_and_forward_at_batch_1(name, abstract_init):
    model = zoo.get_model(name, num_classes=7)
    params, state, out_shape = abstract_init(model, zoo.INPUT_SHAPES[name])
    assert out_shape == (7,)
    x = jax.ShapeDtypeStruct((1, *zoo.INPUT_SHAPES[name]), jnp.float64)
    for train in (False, True):
        y, new_state = jax.eval_shape(
            lambda p, s, x, train=train: model.apply(p, s, x, train=train, key=jax.random.key(0)),
            params,
            state,
            x,
        )
        assert y.shape == (1, 7) and y.dtype == jnp.float64
        assert jax.tree.structure(new_state) == jax.tree.structure(state)


# parameter counts worked out by hand from each docstring's architecture
@pytest.mark.parametrize(
    ("name", "count"),
    [
        # conv 9*32 + BN 2*32, conv 9*32*64 + BN 2*64, conv 9*64*128 + BN 2*128, dense 128*10+10
        ("digits_cnn", 288 + 64 + 18432 + 128 + 73728 + 256 + 1290),
        # stem 9*16 + BN 32; separable 16->32: dw 9*16 + BN 32, pw 16*32 + BN 64; 32->64: dw
        # 9*32 + BN 64, pw 32*64 + BN 128; 64->64: dw 9*64 + BN 128, pw 64*64 + BN 128; dense 650
        (
            "digits_mobilenet",
            144 + 32 + 144 + 32 + 512 + 64 + 288 + 64 + 2048 + 128 + 576 + 128 + 4096 + 128 + 650,
        ),
        # classic LeNet-5: 6*(25+1), 16*(6*25+1), 400*120+120, 120*84+84, 84*10+10
        ("lenet5", 156 + 2416 + 48120 + 10164 + 850),
        # stem 3*3*3*16; 6 convs 3*3*16*16; 3*3*16*32 + 5 * 3*3*32*32; 3*3*32*64 + 5 * 3*3*64*64;
        # projections 16*32 + 32*64; BN 2*(16 + 6*16 + 7*32 + 7*64); dense 64*10+10
        (
            "resnet20",
            432
            + 6 * 2304
            + 4608
            + 5 * 9216
            + 18432
            + 5 * 36864
            + 512
            + 2048
            + 2 * (16 + 96 + 224 + 448)
            + 650,
        ),
    ],
)
def test_parameter_counts(name, count, abstract_init):
    params, _, _ = abstract_init(zoo.get_model(name), zoo.INPUT_SHAPES[name])
    assert _count(params) == count


def test_resnet20_structure(abstract_init):
    params, state, _ = abstract_init(zoo.resnet20(), (32, 32, 3))
    kernels = [p.shape for p in jax.tree.leaves(params) if len(p.shape) == 4]
    assert len(kernels) == 21  # 1 + 9 blocks * 2 convs, + 2 projection shortcuts
    assert sum(k[:2] == (1, 1) for k in kernels) == 2
    blocks = [k for k in params if k.endswith("_residual")]
    assert len(blocks) == 9
    assert [("shortcut" in params[b]) for b in blocks] == [False] * 3 + [True, False, False] * 2
    assert len(jax.tree.leaves(state)) == 2 * 21  # a BatchNorm (mean, var) after every conv


@pytest.mark.parametrize(("name", "has_bn"), [("digits_cnn", True), ("lenet5", False)])
def test_small_models_run(name, has_bn):
    model = zoo.get_model(name)
    params, state, _ = model.init(jax.random.key(0), zoo.INPUT_SHAPES[name])
    x = jax.random.normal(jax.random.key(1), (2, *zoo.INPUT_SHAPES[name]))
    apply = jax.jit(model.apply, static_argnames=("train", "ops"))
    y, new_state = apply(params, state, x, train=True, key=jax.random.key(2), ops=cnnjax.ops)
    assert y.shape == (2, 10) and bool(jnp.all(jnp.isfinite(y)))
    y_eval, _ = apply(params, new_state, x, ops=cnnjax.ops)
    assert y_eval.shape == (2, 10)
    assert (
        bool(jnp.allclose(y, y_eval, rtol=1e-12)) is not has_bn
    )  # BN batch vs running stats, dropout


def test_mobilenet_uses_depthwise_separable_convs(abstract_init):
    params, _, _ = abstract_init(zoo.digits_mobilenet(), (8, 8, 1))
    kernels = [p.shape for p in jax.tree.leaves(params) if len(p.shape) == 4]
    depthwise = [k for k in kernels if k[:3] == (3, 3, 1)]
    pointwise = [k for k in kernels if k[:2] == (1, 1)]
    assert len(depthwise) == 4 and len(pointwise) == 3  # the stem has C_in = 1 too


def test_autoencoder_maps_images_to_images_and_its_hand_gradients_match_autodiff():
    model = zoo.digits_autoencoder()
    with jax.enable_x64(True):
        params, state, out_shape = model.init(jax.random.key(0), (8, 8, 1), dtype=jnp.float64)
        assert out_shape == (8, 8, 1)
        # conv 9*16 + GN 32; conv 9*16*32 + GN 64; conv 9*32*32 + GN 64; convT 2*2*16*32 + 16;
        # conv 9*32*16 + GN 32; conv 1x1 16 + 1
        assert _count(params) == 144 + 32 + 4608 + 64 + 9216 + 64 + 2048 + 16 + 4608 + 32 + 17
        x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1), jnp.float64)

        def loss(p, ops):
            y, _ = model.apply(p, state, x, train=True, ops=ops)
            return jnp.sum((y - x) ** 2)

        hand = jax.grad(loss)(params, cnnjax.ops)
        auto = jax.grad(loss)(params, cnnjax.reference)
        for h, a in zip(jax.tree.leaves(hand), jax.tree.leaves(auto), strict=True):
            assert float(jnp.max(jnp.abs(h - a))) <= 1e-10 * float(jnp.max(jnp.abs(a)))
