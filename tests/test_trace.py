"""``cnnjax trace``: the hand chain equals autodiff at every layer of every zoo model."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from cnnjax import cli, nn
from cnnjax.trace import chain, format_table, trace_model


@pytest.mark.parametrize("name", sorted(nn.zoo.MODELS))
def test_every_layer_of_every_zoo_model_agrees_with_autodiff_in_float32(name):
    model = nn.zoo.get_model(name)
    shape = nn.zoo.INPUT_SHAPES[name]
    params, state, _ = model.init(jax.random.key(0), shape, dtype=jnp.float32)
    images = jax.random.normal(jax.random.key(1), (2, *shape), jnp.float32)
    rows = trace_model(model, params, state, images, jnp.array([1, 3]))
    assert [r.path for r in rows] == ["/".join(p) for p, _ in chain(model)]
    assert len(rows) >= 5
    for r in rows:
        assert r.max_rel_diff <= 1e-5, (r.path, r.rel_diff)
        assert r.grad_out_norm[0] > 0, f"{r.path}: no gradient reached its output"
    with_params = [r for r in rows if r.param_grad_norms]
    assert with_params, "no layer reported a parameter gradient"
    n_params = len(jax.tree.leaves(params))
    assert sum(len(r.param_grad_norms) for r in rows) == n_params


def test_a_planted_gradient_error_shows_in_its_layer_and_not_before(monkeypatch):
    """Corrupt relu's hand VJP: the trace names the relu layers and leaves later ones clean."""
    import cnnjax.ops

    original = cnnjax.ops.relu

    @jax.custom_vjp
    def bad_relu(x):
        return original(x)

    bad_relu.defvjp(lambda x: (original(x), x), lambda x, g: (1.5 * g * (x > 0).astype(g.dtype),))
    monkeypatch.setattr(cnnjax.ops, "relu", bad_relu)
    model = nn.zoo.get_model("digits_cnn")
    params, state, _ = model.init(jax.random.key(0), (8, 8, 1), dtype=jnp.float32)
    images = jax.random.normal(jax.random.key(1), (2, 8, 8, 1), jnp.float32)
    rows = {r.path: r for r in trace_model(model, params, state, images, jnp.array([0, 1]))}
    assert rows["09_relu"].rel_diff["grad_out"] <= 1e-5  # above the last relu: clean
    assert rows["09_relu"].rel_diff["grad_in"] > 0.1  # its input gradient is off by 1.5x
    assert rows["00_conv2d"].rel_diff["param:w"] > 0.1
    assert "09_relu" in format_table(list(rows.values()))


def test_cli_trace_prints_the_table_and_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "trace.json"
    assert (
        cli.main(["trace", "experiments/digits_cnn.toml", "--batch", "4", "--json", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "largest hand/autodiff relative difference" in printed
    report = json.loads(out.read_text())
    model = nn.zoo.get_model(report["model"])
    assert [layer["path"] for layer in report["layers"]] == ["/".join(p) for p, _ in chain(model)]
    assert all(layer["max_rel_diff"] <= 1e-5 for layer in report["layers"])
    assert (tmp_path / "trace.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["missing.toml"], "missing.toml"),
        (["experiments/digits_cnn.toml", "--batch", "0"], "--batch must be >= 1"),
        (["experiments/digits_cnn.toml", "--json", "/no/such/dir/x.json"], "does not exist"),
    ],
)
def test_cli_trace_bad_input_is_one_clear_line(argv, fragment, capsys):
    assert cli.main(["trace", *argv]) != 0
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
