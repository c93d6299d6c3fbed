"""The same network on hand VJPs (``ops=cnnjax.ops``) and on JAX autodiff of the reference
(``ops=cnnjax.reference``): forward outputs, new state and gradients agree in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cnnjax
from cnnjax import nn

RTOL = 1e-10  # float64, relative to the largest entry of the autodiff result (DESIGN.md)


def tiny_net():
    """Every layer kind once, including both Residual shortcut forms."""
    return nn.Sequential(
        [
            nn.Conv2d(4, 3),
            nn.BatchNorm(),
            nn.Relu(),
            nn.MaxPool2d(2),  # 4x4x4
            nn.Residual(
                nn.Sequential([nn.Conv2d(4, 3), nn.BatchNorm(), nn.LeakyRelu(0.1)]),
                activation=nn.Gelu(),
            ),
            nn.Residual(
                nn.Conv2d(6, 3, stride=2, groups=2),
                nn.Conv2d(6, 1, stride=2, use_bias=False),
                activation=nn.Tanh(),
            ),
            nn.AvgPool2d(2, stride=1, padding="SAME", count_include_pad=False),  # 2x2x6
            nn.LayerNorm(),
            nn.Elu(),
            nn.Flatten(),  # 24
            nn.Dropout(0.25),
            nn.Dense(5),
            nn.Softplus(),
            nn.Dense(5),
            nn.Sigmoid(),
            nn.Dense(3),
        ]
    )


CASES = [("tiny", tiny_net, (8, 8, 2), 3), ("digits_cnn", nn.zoo.digits_cnn, (8, 8, 1), 10)]


def _run(model, ops, params, state, x, labels, train):
    def loss_fn(params, x):
        logits, new_state = model.apply(
            params, state, x, train=train, key=jax.random.key(7), ops=ops
        )
        loss = jnp.mean(ops.softmax_cross_entropy(logits, labels))
        return loss, (logits, new_state)

    # jit: one compilation instead of one per eagerly dispatched op
    value_and_grad = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))
    (loss, (logits, new_state)), (grad_params, grad_x) = value_and_grad(params, x)
    return {
        "loss": loss,
        "logits": logits,
        "state": new_state,
        "grad_params": grad_params,
        "grad_x": grad_x,
    }


def _assert_close(name, got, want):
    """Every leaf within RTOL of the largest entry of ``want`` (the whole group): a conv bias
    before BatchNorm has an exactly zero gradient, so per-leaf scales would compare noise."""
    scale = max(float(jnp.max(jnp.abs(w))) for w in jax.tree.leaves(want))
    for (path, g), w in zip(
        jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want), strict=True
    ):
        err = float(jnp.max(jnp.abs(g - w))) / scale
        where = f"{name}{jax.tree_util.keystr(path)}"
        assert err <= RTOL, f"{where}: error {err:.2e} relative to {scale:.2e} > {RTOL}"


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    ("build", "in_shape", "classes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hand_vjps_match_autodiff(build, in_shape, classes, train):
    model = build()
    params, state, out_shape = model.init(jax.random.key(0), in_shape)
    assert out_shape == (classes,)
    # non-trivial running statistics, so eval mode is not a near-identity normalisation
    state = jax.tree.map(lambda s: s + 0.3, state)
    x = jax.random.normal(jax.random.key(1), (2, *in_shape))
    labels = jnp.arange(2, dtype=jnp.int32) % classes

    hand = _run(model, cnnjax.ops, params, state, x, labels, train)
    auto = _run(model, cnnjax.reference, params, state, x, labels, train)

    assert jax.tree.structure(hand) == jax.tree.structure(auto)
    for name in auto:
        _assert_close(name, hand[name], auto[name])
    assert float(jnp.max(jnp.abs(auto["grad_x"]))) > 0.0  # gradients really flow back
    assert float(jnp.max(jnp.abs(auto["grad_params"]["00_conv2d"]["w"]))) > 0.0


def test_hand_vjps_are_in_the_graph():
    """The hand path really goes through custom_vjp (otherwise the comparison is vacuous)."""
    model = tiny_net()
    params, state, _ = model.init(jax.random.key(0), (8, 8, 2))
    x = jnp.ones((2, 8, 8, 2))

    def f(ops):
        return lambda p: model.apply(p, state, x, train=True, key=jax.random.key(1), ops=ops)[0]

    assert "custom_vjp_call" in str(jax.make_jaxpr(f(cnnjax.ops))(params))
    assert "custom_vjp_call" not in str(jax.make_jaxpr(f(cnnjax.reference))(params))
    np.testing.assert_array_equal(jnp.shape(f(cnnjax.ops)(params)), (2, 3))
