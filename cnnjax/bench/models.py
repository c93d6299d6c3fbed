"""Whole-training-step benchmark: forward, backward and optax update of a zoo model.

The step is :func:`cnnjax.steps.make_train_step` itself (the one ``cnnjax train`` runs), built
once with ``cnnjax.ops`` (hand VJPs) and once with ``cnnjax.reference`` (JAX autodiff), and
compiled ahead of time so compile time and XLA's ``memory_analysis()`` can be read. FLOPs are
counted from the forward jaxpr (every ``conv_general_dilated`` and ``dot_general``); a
training step costs three times that (forward, ∂L/∂X and ∂L/∂W each cost one forward).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

import cnnjax.ops as hand_ops
import cnnjax.reference as ref_ops
from cnnjax.bench.timing import compiled_stats, time_call
from cnnjax.nn import zoo
from cnnjax.steps import make_train_step
from cnnjax.tasks import Denoise

__all__ = ["MODEL_NAMES", "forward_flops", "run_model"]

MODEL_NAMES = (
    "digits_cnn",
    "lenet5",
    "vgg_small",
    "resnet20",
    "digits_mobilenet",
    "digits_autoencoder",
)
GRADS = {"hand": hand_ops, "autodiff": ref_ops}
# Image-to-image models: the task their step trains (digits_denoise.toml's).
IMAGE_TASKS = {name: Denoise(noise=0.25) for name in zoo.AUTOENCODERS}


def _eqn_flops(eqn) -> float:
    name = eqn.primitive.name
    if name == "conv_general_dilated":
        rhs_shape, out = eqn.invars[1].aval.shape, eqn.outvars[0].aval
        spec = eqn.params["dimension_numbers"].rhs_spec  # (O, I, spatial...)
        per_output = math.prod(rhs_shape[i] for i in spec[1:])  # C_in/groups * KH * KW
        return 2.0 * math.prod(out.shape) * per_output
    if name == "dot_general":
        (lhs_contract, _), _ = eqn.params["dimension_numbers"]
        lhs = eqn.invars[0].aval
        k = math.prod(lhs.shape[i] for i in lhs_contract)
        return 2.0 * math.prod(eqn.outvars[0].aval.shape) * k
    return 0.0


def _jaxpr_flops(jaxpr) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        total += _eqn_flops(eqn)
        for sub in _subjaxprs(eqn.params):
            total += _jaxpr_flops(sub)
    return total


def _subjaxprs(params: dict):
    for v in params.values():
        for item in v if isinstance(v, (list, tuple)) else (v,):
            inner = getattr(item, "jaxpr", None)
            if inner is not None and hasattr(inner, "eqns"):
                yield inner
            elif hasattr(item, "eqns"):
                yield item


def forward_flops(model: Any, params: Any, state: Any, images: jax.Array) -> float:
    """FLOPs of one training-mode forward pass (convolutions and matmuls only)."""

    def fwd(params, state, images):
        return model.apply(params, state, images, train=True, key=jax.random.key(0), ops=ref_ops)[0]

    return _jaxpr_flops(jax.make_jaxpr(fwd)(params, state, images).jaxpr)


def _setup(name: str, batch: int, optimizer: optax.GradientTransformation):
    if name in IMAGE_TASKS:
        model, shape = zoo.AUTOENCODERS[name](), zoo.AUTOENCODER_SHAPES[name]
    else:
        model, shape = zoo.get_model(name), zoo.INPUT_SHAPES[name]
    k_init, k_x, k_y = jax.random.split(jax.random.key(0), 3)
    params, state, _ = model.init(k_init, shape, dtype=jnp.float32)
    images = jax.random.normal(k_x, (batch, *shape), jnp.float32)
    labels = jax.random.randint(k_y, (batch,), 0, 10)
    return model, params, state, optimizer.init(params), images, labels


def run_model(
    name: str,
    *,
    batch: int = 128,
    repeats: int = 10,
    grads=("hand", "autodiff"),
    min_time_s: float = 0.0,
) -> dict:
    """Images/s, compiled temp bytes and compile time of ``name``'s train step per grad mode.

    Returns a dict with ``name``, ``batch``, ``gflop_per_step`` and, per grad mode ``g``:
    ``{g}_step_ms`` (median), ``{g}_images_per_s``, ``{g}_gflops`` (achieved),
    ``{g}_temp_bytes`` and ``{g}_compile_s``; plus ``ratio`` (hand / autodiff step time) and
    ``temp_ratio`` when both modes ran.
    """
    optimizer = optax.sgd(0.01, momentum=0.9)
    model, params, state, opt_state, images, labels = _setup(name, batch, optimizer)
    flops = 3.0 * forward_flops(model, params, state, images)
    row: dict[str, Any] = {"name": name, "batch": batch, "gflop_per_step": flops / 1e9}
    key = jax.random.key(1)
    args = (params, state, opt_state, images, labels, key)
    compiled = {}
    for g in grads:
        task = IMAGE_TASKS.get(name)
        stats = compiled_stats(make_train_step(model, GRADS[g], optimizer, task=task), *args)
        compiled[g] = stats.compiled
        row[f"{g}_compile_s"] = stats.compile_s
        row[f"{g}_temp_bytes"] = stats.temp_bytes
    # Interleave the modes so a burst of load on a shared machine hits both alike.
    times: dict[str, list[float]] = {g: [] for g in grads}
    rounds = 3
    for r in range(rounds):
        for g in grads:
            t = time_call(
                compiled[g],
                *args,
                warmup=int(r == 0),
                repeats=max(1, repeats // rounds),
                min_time_s=min_time_s / rounds,
            )
            times[g].append(t.median_s)
    for g in grads:
        median_s = sorted(times[g])[len(times[g]) // 2]
        row[f"{g}_step_ms"] = median_s * 1e3
        row[f"{g}_images_per_s"] = batch / median_s
        row[f"{g}_gflops"] = flops / median_s / 1e9
    if "hand" in grads and "autodiff" in grads:
        row["ratio"] = row["hand_step_ms"] / row["autodiff_step_ms"]
        if row["hand_temp_bytes"] and row["autodiff_temp_bytes"]:
            row["temp_ratio"] = row["hand_temp_bytes"] / row["autodiff_temp_bytes"]
    return row
