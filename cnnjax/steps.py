"""The jitted steps of a run: training, evaluation, and the per-step keys.

``make_train_step`` is the one pure step ``(params, state, opt_state, images, labels, key) ->
(params, state, opt_state, loss, metric)`` that ``cnnjax train``, the benchmarks and the
scaling benchmark all run; the op set passed in (``cnnjax.ops``, hand VJPs, or
``cnnjax.reference``, JAX autodiff) supplies both the model's ops and the loss, and the task
(:mod:`cnnjax.tasks`: classify, the default, or denoise) the loss and the metric.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnnjax import config as cfgmod
from cnnjax.config import ExperimentConfig
from cnnjax.distributed import Placement
from cnnjax.tasks import Classify, Task
from cnnjax.trace import layer_grad_norms


def make_train_step(
    model,
    ops,
    optimizer,
    *,
    task: Task | None = None,
    label_smoothing: float = 0.0,
    placement: Placement | None = None,
    grad_stats: bool = False,
) -> Callable:
    """The jitted step ``(params, state, opt_state, images, labels, key) -> (params, state,
    opt_state, loss, metric)``; the loss is the batch mean of ``task.loss`` and the metric
    the batch mean of ``task.score`` (:mod:`cnnjax.tasks`). The default task is
    ``Classify(label_smoothing)``: ``ops.softmax_cross_entropy`` and the accuracy. A denoise
    task makes its noisy inputs from ``key`` and ignores ``labels``.

    With a ``placement``, images and labels are sharded over its ``data`` axis and everything
    else is replicated; the means over the batch (loss, batch-norm statistics) are then
    global, and XLA inserts the all-reduces. With ``grad_stats``, the step returns a sixth
    output: ``{layer: norm of its parameter gradients}`` (:func:`cnnjax.trace.layer_grad_norms`)
    of the gradients it applied.
    """
    task = Classify(label_smoothing) if task is None else task

    def loss_fn(params, state, images, labels, key):
        inputs, targets, model_key = task.train_inputs(images, labels, key)
        out, new_state = model.apply(params, state, inputs, train=True, key=model_key, ops=ops)
        return jnp.mean(task.loss(ops, out, targets)), (new_state, out, targets)

    def train_step(params, state, opt_state, images, labels, key):
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (state, out, targets)), grads = grad_fn(params, state, images, labels, key)
        # optax mixes Python floats with int32 step counts (``b1 ** count``), which strict
        # dtype promotion refuses; only the optimizer runs under standard promotion, and its
        # updates are cast back so params keep their dtype (a float64 schedule under x64).
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, params)
        updates = jax.tree.map(lambda u, p: u.astype(p.dtype), updates, params)
        params = optax.apply_updates(params, updates)
        result = (params, state, opt_state, loss, jnp.mean(task.score(ops, out, targets)))
        return (*result, layer_grad_norms(model, grads)) if grad_stats else result

    return _jit(train_step, placement, "rrrbbr", "rrrrrr" if grad_stats else "rrrrr")


def _jit(fn: Callable, placement: Placement | None, ins: str, outs: str) -> Callable:
    """``jax.jit(fn)``, with shardings per argument and output (``b``atch or ``r``eplicated)."""
    if placement is None:
        return jax.jit(fn)
    pick = {"b": placement.batch, "r": placement.replicated}
    return jax.jit(
        fn, in_shardings=tuple(pick[c] for c in ins), out_shardings=tuple(pick[c] for c in outs)
    )


def make_eval_step(
    model, ops, placement: Placement | None = None, *, task: Task | None = None
) -> Callable:
    """Jitted ``(params, state, inputs, targets, mask) -> (sum of losses, sum of scores)``
    over the examples where ``mask`` is true (the last batch is padded to a fixed shape).

    ``inputs``/``targets`` are the task's test arrays (``task.test_arrays``): images and
    labels for classify (the scores count the correct answers), noisy and clean images for
    denoise (the scores are the per-example MSEs). The default task is ``Classify()``.
    """
    task = Classify() if task is None else task

    def eval_step(params, state, inputs, targets, mask):
        out, _ = model.apply(params, state, inputs, train=False, ops=ops)
        losses, scores = task.loss(ops, out, targets), task.score(ops, out, targets)
        zero = jnp.zeros((), losses.dtype)
        return jnp.sum(jnp.where(mask, losses, zero)), jnp.sum(jnp.where(mask, scores, zero))

    return _jit(eval_step, placement, "rrbbb", "rr")


_STEP_CACHE: dict[str, tuple[Callable, Callable]] = {}


def compiled_steps(
    config: ExperimentConfig, exp: Any, placement: Placement | None = None
) -> tuple[Callable, Callable]:
    """``(train_step, eval_step)`` for ``config`` and its built experiment ``exp`` (a
    ``cnnjax.experiment.Experiment``), reused across runs in one process.

    The cache key is the whole config but ``name``, ``seed`` and ``output`` (none of which
    reaches the step: keys are arguments) with ``output.grad_stats`` put back (it does), so
    it holds everything the model, op set, optimizer, schedule and loss are built from, plus
    the data-derived class count and steps per epoch, and the devices: a setting added
    later cannot reuse a stale step.
    """
    skip = ("name", "seed", "output")
    settings = {k: v for k, v in cfgmod.to_dict(config).items() if k not in skip}
    settings["grad_stats"] = config.output.grad_stats
    key = json.dumps(
        [settings, exp.num_classes, exp.steps_per_epoch, placement and placement.key],
        sort_keys=True,
        default=repr,
    )
    if key not in _STEP_CACHE:
        if len(_STEP_CACHE) >= 8:
            _STEP_CACHE.pop(next(iter(_STEP_CACHE)))
        _STEP_CACHE[key] = (
            make_train_step(
                exp.model,
                exp.ops,
                exp.optimizer,
                task=exp.task,
                placement=placement,
                grad_stats=config.output.grad_stats,
            ),
            make_eval_step(exp.model, exp.ops, placement, task=exp.task),
        )
    return _STEP_CACHE[key]


def evaluate(
    eval_step, params, state, images, labels, batch_size: int, placement: Placement | None = None
) -> tuple[float, float]:
    """Mean loss and mean score (accuracy, or MSE for denoise) over ``images`` and their
    ``labels`` (any targets with a leading batch axis) in batches of a fixed size (padded;
    with a ``placement``, rounded up to a multiple of its devices and sharded over them)."""
    n = images.shape[0]
    batch_size = min(batch_size, n)
    put = (lambda a: a) if placement is None else placement.shard
    if placement is not None:
        batch_size = -(-batch_size // placement.num_devices) * placement.num_devices
    total_loss, total_score = 0.0, 0.0
    for start in range(0, n, batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        mask = np.ones(batch_size, bool)
        if x.shape[0] < batch_size:
            pad = batch_size - x.shape[0]
            mask[x.shape[0] :] = False
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
            y = np.concatenate([y, np.zeros((pad, *y.shape[1:]), y.dtype)])
        loss, score = eval_step(params, state, put(x), put(y), put(mask))
        total_loss += float(loss)
        total_score += float(score)
    return total_loss / n, total_score / n


def step_key(seed: int, epoch: int, step: int) -> jax.Array:
    """The dropout key of ``step`` (0-based) in ``epoch`` (1-based): a pure function of the
    three, so a resumed run draws exactly the keys of an uninterrupted one."""
    root = jax.random.fold_in(jax.random.key(seed), 1)  # stream 0 is the init key
    return jax.random.fold_in(jax.random.fold_in(root, epoch), step)
