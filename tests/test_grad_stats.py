"""``[output] grad_stats``: per-layer parameter-gradient norms, in the step, in metrics.jsonl
and in grad_norms.png; checked against norms of ``jax.grad`` of the reference loss."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import cnnjax.reference
from cnnjax.config import load_config
from cnnjax.metrics import TIMING_FIELDS, mean_grad_norms, read_metrics
from cnnjax.steps import make_train_step, step_key
from cnnjax.trace import layer_grad_norms
from cnnjax.train import build_experiment, train_and_evaluate

DIGITS = Path(__file__).parent.parent / "experiments" / "digits_cnn.toml"
TINY = [
    'data.name="synthetic"',
    "data.options={image_shape=[8, 8, 1], num_train=48, num_test=12, seed=3}",
    "train.batch_size=16",
    "train.epochs=2",
    "train.eval_batch_size=16",
]


def numpy_norms(tree) -> dict[str, float]:
    """Per top-level layer of a flat Sequential: sqrt of the sum of squares of its leaves."""
    out = {}
    for name, sub in tree.items():
        leaves = [np.asarray(a, np.float64) for a in jax.tree.leaves(sub)]
        if leaves:
            out[name] = float(np.sqrt(sum(np.sum(a * a) for a in leaves)))
    return out


def test_layer_grad_norms_is_the_norm_of_each_layers_parameters():
    exp = build_experiment(load_config(DIGITS, TINY))
    keys = iter(jax.random.split(jax.random.key(1), 64))
    grads = jax.tree.map(lambda p: jax.random.normal(next(keys), p.shape, p.dtype), exp.params)
    got = {k: float(v) for k, v in layer_grad_norms(exp.model, grads).items()}
    want = numpy_norms(grads)
    assert list(got) == list(want) and len(want) >= 5  # conv, batch-norm and dense layers
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-6)


def test_mean_grad_norms_averages_each_layer_over_the_steps():
    steps = [{"a": jnp.float32(1.0), "b": jnp.float32(4.0)}, {"a": jnp.float32(2.0), "b": 0.0}]
    assert mean_grad_norms(steps) == {"a": 1.5, "b": 2.0}


def test_a_grad_stats_step_applies_the_same_update_and_reports_autodiffs_norms():
    """One step with and without ``grad_stats``: identical parameters after it, and the norms
    equal those of ``jax.grad`` of the same loss through ``cnnjax.reference``."""
    exp = build_experiment(load_config(DIGITS, TINY))
    x, y = exp.data.train_images[:16], exp.data.train_labels[:16]
    key = step_key(0, 1, 0)
    args = (exp.params, exp.state, exp.opt_state, x, y, key)
    plain = make_train_step(exp.model, exp.ops, exp.optimizer)(*args)
    stats = make_train_step(exp.model, exp.ops, exp.optimizer, grad_stats=True)(*args)
    assert len(plain) == 5 and len(stats) == 6
    for a, b in zip(jax.tree.leaves(plain[:5]), jax.tree.leaves(stats[:5]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    def loss(params):
        logits, _ = exp.model.apply(params, exp.state, x, train=True, key=key, ops=cnnjax.reference)
        return jnp.mean(cnnjax.reference.softmax_cross_entropy(logits, y))

    want = numpy_norms(jax.grad(loss)(exp.params))
    got = {k: float(v) for k, v in stats[5].items()}
    assert list(got) == list(want)
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-4)


def test_a_run_logs_every_layer_each_epoch_and_plots_them(tmp_path):
    """Training with grad_stats is the same training (every other metric equal), plus one
    ``grad_norms`` record per epoch over the parameterised layers; turning it on at a resume
    (an ``output.*`` key) logs from there on and still plots."""
    plain = tmp_path / "plain"
    train_and_evaluate(load_config(DIGITS, [*TINY, "output.plot=false"]), plain, verbose=False)
    run = tmp_path / "stats"
    on = [*TINY, "output.grad_stats=true", "output.plot=true"]
    train_and_evaluate(load_config(DIGITS, on), run, verbose=False)
    records = read_metrics(run / "metrics.jsonl")
    layers = list(numpy_norms(build_experiment(load_config(DIGITS, TINY)).params))
    for r in records:
        assert list(r["grad_norms"]) == layers
        assert all(np.isfinite(v) and v > 0 for v in r["grad_norms"].values())
    assert records[0]["grad_norms"] != records[1]["grad_norms"]

    def rest(rs):
        return [{k: v for k, v in r.items() if k not in (*TIMING_FIELDS, "grad_norms")} for r in rs]

    assert rest(records) == rest(read_metrics(plain / "metrics.jsonl"))
    assert (run / "grad_norms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (plain / "grad_norms.png").exists()

    more = [*TINY, "train.epochs=3", "output.grad_stats=true", "output.plot=true"]
    train_and_evaluate(load_config(DIGITS, more), plain, resume=True, verbose=False)
    resumed = read_metrics(plain / "metrics.jsonl")
    assert ["grad_norms" in r for r in resumed] == [False, False, True]
    assert (plain / "grad_norms.png").exists()
