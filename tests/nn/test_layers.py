"""Layers: shapes through init, BatchNorm/Dropout behaviour, initialisers, error messages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cnnjax
from cnnjax import nn

OPS = [cnnjax.ops, cnnjax.reference]
OPS_IDS = ["hand", "autodiff"]

# (id, layer factory, per-example in_shape, expected out_shape) -- out_shape by hand
LAYERS = [
    ("conv-same", lambda: nn.Conv2d(4, 3), (5, 6, 2), (5, 6, 4)),
    ("conv-s2-valid", lambda: nn.Conv2d(3, 3, stride=2, padding="VALID"), (7, 6, 2), (3, 2, 3)),
    (
        "conv-dil-groups",
        lambda: nn.Conv2d(4, 3, dilation=2, groups=2, padding=1),
        (6, 6, 2),
        (4, 4, 4),
    ),
    ("conv-nobias", lambda: nn.Conv2d(2, (1, 3), use_bias=False), (3, 4, 1), (3, 4, 2)),
    ("dense-flat", lambda: nn.Dense(3), (5,), (3,)),
    ("dense-nhwc", lambda: nn.Dense(3), (2, 2, 4), (2, 2, 3)),
    ("maxpool", lambda: nn.MaxPool2d(2), (5, 4, 3), (2, 2, 3)),
    ("maxpool-s1-same", lambda: nn.MaxPool2d(3, stride=1, padding="SAME"), (4, 5, 2), (4, 5, 2)),
    ("avgpool", lambda: nn.AvgPool2d((2, 3), stride=(2, 1)), (4, 5, 2), (2, 3, 2)),
    (
        "avgpool-pad",
        lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        (5, 5, 1),
        (3, 3, 1),
    ),
    ("maxpool-ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), (5, 4, 3), (3, 2, 3)),
    (
        "maxpool-dil-ceil",  # k_eff 5: H (6+2-5)/2 -> 3 (floor 2), W (8+2-5)/2 -> 4 (floor 3)
        lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
        (6, 8, 2),
        (3, 4, 2),
    ),
    (
        "avgpool-ceil-dropped",  # ceil(5/2)+1 = 4, but the 4th window starts in the padding
        lambda: nn.AvgPool2d(2, padding=1, ceil_mode=True, divisor_override=3),
        (5, 5, 1),
        (3, 3, 1),
    ),
    ("gap", lambda: nn.GlobalAvgPool2d(), (3, 4, 5), (5,)),
    ("flatten", lambda: nn.Flatten(), (3, 4, 5), (60,)),
    ("batchnorm", lambda: nn.BatchNorm(), (3, 3, 4), (3, 3, 4)),
    ("layernorm", lambda: nn.LayerNorm(), (3, 4), (3, 4)),
    ("dropout", lambda: nn.Dropout(0.5), (3, 4), (3, 4)),
    ("relu", lambda: nn.Relu(), (3, 2), (3, 2)),
    ("leaky_relu", lambda: nn.LeakyRelu(0.2), (3, 2), (3, 2)),
    ("elu", lambda: nn.Elu(), (3, 2), (3, 2)),
    ("sigmoid", lambda: nn.Sigmoid(), (3, 2), (3, 2)),
    ("tanh", lambda: nn.Tanh(), (3, 2), (3, 2)),
    ("gelu", lambda: nn.Gelu(approximate=False), (3, 2), (3, 2)),
    ("softplus", lambda: nn.Softplus(), (3, 2), (3, 2)),
    (
        "residual-id",
        lambda: nn.Residual(nn.Sequential([nn.Conv2d(2, 3), nn.BatchNorm()])),
        (4, 4, 2),
        (4, 4, 2),
    ),
    (
        "residual-proj",
        lambda: nn.Residual(
            nn.Conv2d(3, 3, stride=2), nn.Conv2d(3, 1, stride=2), activation=nn.Tanh()
        ),
        (5, 5, 2),
        (3, 3, 3),
    ),
]


@pytest.mark.parametrize("ops", OPS, ids=OPS_IDS)
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize(
    ("factory", "in_shape", "out_shape"), [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS]
)
def test_init_shape_matches_apply(factory, in_shape, out_shape, train, ops, abstract_init):
    layer = factory()
    params, state, got_shape = abstract_init(layer, in_shape)
    assert got_shape == out_shape
    x = jax.ShapeDtypeStruct((2, *in_shape), jnp.float64)

    def apply(params, state, x):
        return layer.apply(params, state, x, train=train, key=jax.random.key(2), ops=ops)

    y, new_state = jax.eval_shape(apply, params, state, x)  # traces only: fast
    assert y.shape == (2, *out_shape)
    assert y.dtype == x.dtype
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


def test_init_dtype_and_param_shapes():
    params, _, _ = nn.Conv2d(6, (3, 2), groups=3).init(
        jax.random.key(0), (5, 5, 3), dtype="float32"
    )
    assert params["w"].shape == (3, 2, 1, 6) and params["w"].dtype == jnp.float32
    assert params["b"].shape == (6,) and params["b"].dtype == jnp.float32
    params, _, _ = nn.Dense(4, use_bias=False).init(jax.random.key(0), (7,))
    assert list(params) == ["w"] and params["w"].dtype == jnp.float64


@pytest.mark.parametrize(
    ("init", "var"),
    [(nn.he_normal(), 2 / 400), (nn.he_uniform(), 2 / 400), (nn.lecun_normal(), 1 / 400)],
)
def test_initialiser_variance(init, var):
    w = init(jax.random.key(0), (5, 5, 16, 500), jnp.float64)  # fan_in = 400, 200k samples
    assert abs(float(jnp.mean(w))) < 5 * np.sqrt(var / w.size)  # 5 standard errors
    assert float(jnp.var(w)) == pytest.approx(var, rel=0.02)


def test_conv_kernel_init_is_he_normal_with_zero_bias():
    params, _, _ = nn.Conv2d(64, 3).init(jax.random.key(0), (4, 4, 32))
    assert float(jnp.std(params["w"])) == pytest.approx(np.sqrt(2 / (9 * 32)), rel=0.03)
    assert params["b"].tolist() == [0.0] * 64


@pytest.mark.parametrize("ops", OPS, ids=OPS_IDS)
def test_batchnorm_train_and_eval_against_hand_computation(ops):
    layer = nn.BatchNorm(momentum=0.8, eps=1e-3)
    params, state, _ = layer.init(jax.random.key(0), (3, 2, 4))
    k = jax.random.split(jax.random.key(1), 5)
    params = {"scale": jax.random.normal(k[0], (4,)), "bias": jax.random.normal(k[1], (4,))}
    state = {"mean": jax.random.normal(k[2], (4,)), "var": jax.random.uniform(k[3], (4,)) + 0.5}
    x = 3.0 * jax.random.normal(k[4], (5, 3, 2, 4)) + 1.0
    xn, sc, bi = np.asarray(x), np.asarray(params["scale"]), np.asarray(params["bias"])
    rm, rv = np.asarray(state["mean"]), np.asarray(state["var"])

    y, new_state = layer.apply(params, state, x, train=True, ops=ops)
    mean, var = xn.mean(axis=(0, 1, 2)), xn.var(axis=(0, 1, 2))  # biased variance
    np.testing.assert_allclose(y, (xn - mean) / np.sqrt(var + 1e-3) * sc + bi, rtol=1e-12)
    np.testing.assert_allclose(new_state["mean"], 0.8 * rm + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(new_state["var"], 0.8 * rv + 0.2 * var, rtol=1e-12)

    y, eval_state = layer.apply(params, state, x, train=False, ops=ops)
    np.testing.assert_allclose(y, (xn - rm) / np.sqrt(rv + 1e-3) * sc + bi, rtol=1e-12)
    assert eval_state is state


@pytest.mark.parametrize("ops", OPS, ids=OPS_IDS)
def test_batchnorm_running_stats_carry_no_gradient(ops):
    layer = nn.BatchNorm()
    params, state, _ = layer.init(jax.random.key(0), (3,))
    x = jax.random.normal(jax.random.key(1), (4, 3))

    def stats(x):
        _, new_state = layer.apply(params, state, x, train=True, ops=ops)
        return jnp.sum(new_state["mean"]) + jnp.sum(new_state["var"])

    assert jnp.all(jax.grad(stats)(x) == 0.0)


def test_batchnorm_default_momentum_is_flax_convention():
    layer = nn.BatchNorm()
    params, state, _ = layer.init(jax.random.key(0), (2,))
    x = jnp.array([[1.0, -2.0], [3.0, 4.0]])
    _, new_state = layer.apply(params, state, x, train=True)
    assert new_state["mean"].tolist() == pytest.approx([0.1 * 2.0, 0.1 * 1.0])
    assert new_state["var"].tolist() == pytest.approx([0.9 + 0.1 * 1.0, 0.9 + 0.1 * 9.0])


@pytest.mark.parametrize("ops", OPS, ids=OPS_IDS)
def test_dropout_needs_key_in_training_and_is_identity_in_eval(ops):
    layer = nn.Dropout(0.5)
    x = jax.random.normal(jax.random.key(0), (4, 50)) + 5.0  # away from 0: zeros are drops
    y, _ = layer.apply({}, {}, x, ops=ops)
    assert y is x
    with pytest.raises(ValueError, match=r"Dropout: `key` is required when train=True"):
        layer.apply({}, {}, x, train=True, ops=ops)
    y, _ = layer.apply({}, {}, x, train=True, key=jax.random.key(1), ops=ops)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2.0 * x[kept], rtol=1e-15)
    assert 0.3 < float(jnp.mean(kept)) < 0.7
    y2, _ = layer.apply({}, {}, x, train=True, key=jax.random.key(2), ops=ops)
    assert not jnp.array_equal(y2 != 0, kept)


def test_dense_and_conv_compute_the_ops():
    x = jax.random.normal(jax.random.key(0), (2, 4, 4, 3))
    conv = nn.Conv2d(5, 3, stride=2, padding="SAME")
    params, _, _ = conv.init(jax.random.key(1), (4, 4, 3))
    y, _ = conv.apply(params, {}, x)
    want = jax.lax.conv_general_dilated(
        x, params["w"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    ) + params["b"].reshape(1, 1, 1, 5)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    dense = nn.Dense(2)
    params, _, _ = dense.init(jax.random.key(2), (3,))
    params["b"] = jnp.array([1.0, -1.0])
    y, _ = dense.apply(params, {}, x[:, 0, 0, :])
    np.testing.assert_allclose(y, x[:, 0, 0, :] @ params["w"] + params["b"][None, :], rtol=1e-12)


@pytest.mark.parametrize(
    ("factory", "in_shape", "x_shape", "message"),
    [
        (
            lambda: nn.Conv2d(4, 3),
            (5, 5, 2),
            (2, 5, 5, 3),
            r"Conv2d: input's last axis must have C=2 \(as at init\), got shape \(2, 5, 5, 3\)",
        ),
        (
            lambda: nn.Conv2d(4, 3),
            (5, 5, 2),
            (5, 5, 2),
            r"Conv2d: input must have shape \(N, H, W, C\), got shape \(5, 5, 2\)",
        ),
        (lambda: nn.Dense(4), (6,), (2, 5), r"Dense: input's last axis must have In=6"),
        (lambda: nn.BatchNorm(), (3,), (2, 4), r"BatchNorm: input's last axis must have C=3"),
        (lambda: nn.LayerNorm(), (3,), (2, 4), r"LayerNorm: input's last axis must have C=3"),
        (lambda: nn.MaxPool2d(2), (4, 4, 1), (2, 4, 4), r"MaxPool2d: input must have shape"),
        (lambda: nn.GlobalAvgPool2d(), (4, 4, 1), (2, 16), r"GlobalAvgPool2d: input must have"),
        (lambda: nn.Flatten(), (4,), (4,), r"Flatten: input must have shape \(N, d1, ...\)"),
        (lambda: nn.Relu(), (4,), (4,), r"Relu: input must have shape"),
    ],
    ids=[
        "conv-channels",
        "conv-rank",
        "dense",
        "batchnorm",
        "layernorm",
        "maxpool",
        "gap",
        "flatten",
        "relu",
    ],
)
def test_apply_with_wrong_input_shape_names_the_layer(
    factory, in_shape, x_shape, message, abstract_init
):
    layer = factory()
    params, state, _ = abstract_init(layer, in_shape)
    x = jax.ShapeDtypeStruct(x_shape, jnp.float64)
    with pytest.raises(ValueError, match=message):
        jax.eval_shape(lambda p, s, x: layer.apply(p, s, x), params, state, x)


@pytest.mark.parametrize(
    ("factory", "in_shape", "error", "message"),
    [
        (
            lambda: nn.Conv2d(4, 3),
            (5, 5),
            ValueError,
            r"Conv2d: `in_shape` must be one example's shape \(H, W, C\) \(no batch axis\), got",
        ),
        (
            lambda: nn.Conv2d(4, 5, padding="VALID"),
            (3, 8, 1),
            ValueError,
            r"Conv2d: dilated kernel \(5, 5\) is larger than the padded input",
        ),
        (
            lambda: nn.Conv2d(4, 3, groups=2),
            (5, 5, 3),
            ValueError,
            r"Conv2d: input channels C=3 must be divisible by groups=2",
        ),
        (lambda: nn.MaxPool2d(3), (2, 2, 1), ValueError, r"MaxPool2d: window \(3, 3\) is larger"),
        (
            lambda: nn.AvgPool2d(2, padding=2),
            (5, 5, 1),
            ValueError,
            r"AvgPool2d: `padding` must be smaller than the \(dilated\) window",
        ),
        (
            lambda: nn.MaxPool2d(2, dilation=3, padding=(0, 4)),
            (5, 5, 1),
            ValueError,
            r"MaxPool2d: `padding` must be smaller .* got padding \(4, 4\) for window 4 along W",
        ),
        (lambda: nn.Dense(2), "x", TypeError, r"Dense: `in_shape` must be a tuple of ints"),
        (lambda: nn.Flatten(), (3, 0), ValueError, r"Flatten: `in_shape` must have positive"),
    ],
)
def test_init_errors(factory, in_shape, error, message):
    with pytest.raises(error, match=message):
        factory().init(jax.random.key(0), in_shape)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.Conv2d(0, 3), ValueError, r"Conv2d: `features` must be >= 1, got 0"),
        (lambda: nn.Conv2d(5, 3, groups=2), ValueError, r"`features`=5 must be divisible by"),
        (lambda: nn.Conv2d(4, 3, stride=0), ValueError, r"conv|Conv2d: `stride` must be >= 1"),
        (lambda: nn.Dense(2.5), TypeError, r"Dense: `features` must be an int, got 2.5"),
        (lambda: nn.Dropout(1.0), ValueError, r"Dropout: `rate` must be in \[0, 1\), got 1.0"),
        (lambda: nn.BatchNorm(momentum=1.5), ValueError, r"BatchNorm: `momentum` must be in"),
        (lambda: nn.BatchNorm(eps=0.0), ValueError, r"BatchNorm: `eps` must be a positive"),
        (lambda: nn.MaxPool2d("2"), TypeError, r"MaxPool2d: `window` must be an int or a pair"),
        (lambda: nn.MaxPool2d(2, dilation=0), ValueError, r"MaxPool2d: `dilation` must be >= 1"),
        (lambda: nn.MaxPool2d(2, ceil_mode=1), TypeError, r"MaxPool2d: `ceil_mode` must be a"),
        (lambda: nn.AvgPool2d(2, ceil_mode="y"), TypeError, r"AvgPool2d: `ceil_mode` must be a"),
        (
            lambda: nn.AvgPool2d(2, count_include_pad=None),
            TypeError,
            r"AvgPool2d: `count_include_pad` must be a bool, got None",
        ),
        (
            lambda: nn.AvgPool2d(2, divisor_override=2.0),
            TypeError,
            r"AvgPool2d: `divisor_override` must be None or an int, got 2.0",
        ),
        (
            lambda: nn.AvgPool2d(2, divisor_override=0),
            ValueError,
            r"AvgPool2d: `divisor_override` must be >= 1, got 0",
        ),
    ],
)
def test_constructor_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layer_name():
    assert nn.layer_name(nn.BatchNorm()) == "BatchNorm"
    assert nn.layer_name(nn.AvgPool2d(2)) == "AvgPool2d"
    assert nn.layer_name(nn.LeakyRelu()) == "LeakyRelu"
    assert nn.layer_name(nn.Residual(nn.Relu())) == "Residual"


# (layer, the op and keywords it must call), each with a ceil_mode window off the bottom/right
POOL_CALLS = [
    (
        lambda: nn.MaxPool2d((3, 2), stride=2, padding=1, dilation=(2, 1), ceil_mode=True),
        "max_pool2d",
        dict(window=(3, 2), stride=2, padding=1, dilation=(2, 1), ceil_mode=True),
    ),
    (
        lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
        "avg_pool2d",
        dict(window=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    ),
    (
        lambda: nn.AvgPool2d(2, stride=(2, 3), ceil_mode=True, divisor_override=3),
        "avg_pool2d",
        dict(window=2, stride=(2, 3), ceil_mode=True, divisor_override=3),
    ),
]


@pytest.mark.parametrize("ops", OPS, ids=OPS_IDS)
@pytest.mark.parametrize(("make", "op_name", "kwargs"), POOL_CALLS, ids=["max", "avg", "avg-div"])
def test_pool_layers_pass_every_option_to_the_op(make, op_name, kwargs, ops):
    x = jax.random.normal(jax.random.key(0), (2, 6, 7, 3))
    layer = make()
    _, _, out_shape = layer.init(jax.random.key(1), x.shape[1:])
    y, _ = layer.apply({}, {}, x, ops=ops)
    op = getattr(ops, op_name)
    rest = {k: v for k, v in kwargs.items() if k != "window"}
    want = op(x, kwargs["window"], **rest)
    assert y.shape[1:] == out_shape == want.shape[1:]
    np.testing.assert_array_equal(y, want)
    # ceil_mode adds a last window hanging off the bottom or right edge; the others agree
    floor = op(x, kwargs["window"], **{**rest, "ceil_mode": False})
    assert floor.shape[1] < y.shape[1] or floor.shape[2] < y.shape[2]
    np.testing.assert_allclose(y[:, : floor.shape[1], : floor.shape[2]], floor, rtol=1e-14)
