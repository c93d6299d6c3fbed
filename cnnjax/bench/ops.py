"""Per-op benchmark: jitted forward + backward, hand VJP (``cnnjax.ops``) against ``jax.grad``
of ``cnnjax.reference``, on the shapes the zoo models run at batch 128.

Each case is a scalar loss ``sum(op(*args) * ct)`` with a fixed random cotangent ``ct`` (so the
backward sees a realistic cotangent), differentiated with respect to every float argument;
the two op sets run the same loss under ``jax.jit(jax.value_and_grad(...))``. The conv cases
also time their three convolutions separately (forward, ∂L/∂X, ∂L/∂W) in GFLOP/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import cnnjax.ops as hand_ops
import cnnjax.reference as ref_ops
from cnnjax.bench.timing import compiled_stats, time_call
from cnnjax.ops.conv import conv2d_grad_input, conv2d_grad_weight

__all__ = ["OpCase", "op_cases", "run_op_case", "run_conv_parts"]


class OpCase(NamedTuple):
    """One benchmarked op configuration."""

    name: str
    shapes: tuple[tuple[int, ...], ...]  # float arguments, all differentiated
    call: Callable[..., Any]  # call(ops, *arrays) -> output array
    conv: dict | None = None  # conv2d keywords, for the per-convolution breakdown
    labels: int = 0  # > 0: an extra int label argument with this many classes


def _conv(kw):
    return lambda ops, x, w: ops.conv2d(x, w, **kw)


def _conv_case(name, n, hw, cin, cout, k, **kw) -> OpCase:
    return OpCase(f"conv2d-{name}", ((n, hw, hw, cin), (k, k, cin, cout)), _conv(kw), conv=kw)


def op_cases(batch: int = 128, *, quick: bool = False) -> list[OpCase]:
    """The benchmark's op cases at ``batch`` (the zoo's CIFAR, MNIST and ResNet shapes)."""
    n = batch
    cases = [
        _conv_case("3x3-32x32-64to64", n, 32, 64, 64, 3, padding="SAME"),
        _conv_case("3x3-16x16-128to128", n, 16, 128, 128, 3, padding="SAME"),
        _conv_case("3x3-8x8-256to256", n, 8, 256, 256, 3, padding="SAME"),
        _conv_case("3x3-32x32-3to64", n, 32, 3, 64, 3, padding="SAME"),
        _conv_case("3x3s2-32x32-16to32", n, 32, 16, 32, 3, stride=2, padding="SAME"),
        _conv_case("1x1s2-16x16-32to64", n, 16, 32, 64, 1, stride=2),
        _conv_case("5x5-28x28-1to6", n, 28, 1, 6, 5, padding="SAME"),
        OpCase("max_pool2d-2x2-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.max_pool2d(x, 2)),
        OpCase("avg_pool2d-2x2-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.avg_pool2d(x, 2)),
        OpCase(
            "global_avg_pool2d-8x8x64", ((n, 8, 8, 64),), lambda ops, x: ops.global_avg_pool2d(x)
        ),
        OpCase(
            "batch_norm-32x32x64",
            ((n, 32, 32, 64), (64,), (64,)),
            lambda ops, x, s, b: ops.batch_norm(x, s, b)[0],
        ),
        OpCase(
            "dense-4096to256",
            ((n, 4096), (4096, 256), (256,)),
            lambda ops, x, w, b: ops.dense(x, w, b),
        ),
        OpCase(
            "softmax_cross_entropy-10",
            ((n, 10),),
            lambda ops, z, y: ops.softmax_cross_entropy(z, y),
            labels=10,
        ),
        OpCase("relu-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.relu(x)),
        OpCase("gelu-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.gelu(x)),
        OpCase("elu-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.elu(x)),
        OpCase("sigmoid-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.sigmoid(x)),
        OpCase("tanh-32x32x64", ((n, 32, 32, 64),), lambda ops, x: ops.tanh(x)),
        *_round2_cases(n),
    ]
    if quick:
        keep = (
            "conv2d-3x3-32x32-64to64",
            "conv2d-3x3-16x16-128to128",
            "conv2d-3x3-8x8-256to256",
            "max_pool2d",
            "avg_pool2d",
            "batch_norm",
            "dense",
            "softmax",
            "relu-",
            "gelu-",
        )
        cases = [c for c in cases if c.name.startswith(keep)]
    return cases


def _round2_cases(n: int) -> list[OpCase]:
    """The round-2 ops at the shapes of the U-Net / MobileNet-style blocks they serve."""
    act = (n, 32, 32, 64)

    def elementwise(name):
        return OpCase(f"{name}-32x32x64", (act,), lambda ops, x: getattr(ops, name)(x))

    return [
        OpCase(
            "conv_transpose2d-2x2s2-16x16-64to32",
            ((n, 16, 16, 64), (2, 2, 32, 64), (32,)),
            lambda ops, x, w, b: ops.conv_transpose2d(x, w, b, stride=2),
        ),
        OpCase(
            "conv_transpose2d-3x3s2-16x16-64to32-op1",
            ((n, 16, 16, 64), (3, 3, 32, 64)),
            lambda ops, x, w: ops.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        ),
        OpCase("pad2d-reflect1-32x32x64", (act,), lambda ops, x: ops.pad2d(x, 1, mode="reflect")),
        OpCase("pad2d-circular2-32x32x64", (act,), lambda ops, x: ops.pad2d(x, 2, mode="circular")),
        OpCase(
            "upsample2d-nearest2-16x16x64",
            ((n, 16, 16, 64),),
            lambda ops, x: ops.upsample2d(x, scale_factor=2),
        ),
        OpCase(
            "upsample2d-bilinear2-16x16x64",
            ((n, 16, 16, 64),),
            lambda ops, x: ops.upsample2d(x, scale_factor=2, mode="bilinear"),
        ),
        OpCase(
            "adaptive_avg_pool2d-32x32to7-64",
            (act,),
            lambda ops, x: ops.adaptive_avg_pool2d(x, 7),
        ),
        OpCase(
            "adaptive_max_pool2d-32x32to7-64",
            (act,),
            lambda ops, x: ops.adaptive_max_pool2d(x, 7),
        ),
        OpCase(
            "global_max_pool2d-8x8x64", ((n, 8, 8, 64),), lambda ops, x: ops.global_max_pool2d(x)
        ),
        OpCase(
            "group_norm-g8-32x32x64",
            (act, (64,), (64,)),
            lambda ops, x, s, b: ops.group_norm(x, s, b, num_groups=8),
        ),
        OpCase(
            "instance_norm-32x32x64",
            (act, (64,), (64,)),
            lambda ops, x, s, b: ops.instance_norm(x, s, b),
        ),
        OpCase(
            "layer_norm-hwc-16x16x64",
            ((n, 16, 16, 64), (16, 16, 64), (16, 16, 64)),
            lambda ops, x, s, b: ops.layer_norm(x, s, b, axis=(-3, -2, -1)),
        ),
        OpCase(
            "batch_norm_inference-32x32x64",
            (act, (64,), (64,), (64,), (64,)),
            lambda ops, x, m, v, s, b: ops.batch_norm_inference(x, m, 1.0 + v * v, s, b),
        ),
        OpCase("softmax-1000", ((n, 1000),), lambda ops, x: ops.softmax(x)),
        elementwise("silu"),
        elementwise("relu6"),
        elementwise("hardswish"),
        OpCase("prelu-32x32x64", (act, (64,)), lambda ops, x, a: ops.prelu(x, a)),
        OpCase(
            "mse_loss-32x32x3",
            ((n, 32, 32, 3), (n, 32, 32, 3)),
            lambda ops, p, t: ops.mse_loss(p, t),
        ),
    ]


def _inputs(case: OpCase, key: jax.Array) -> tuple[list[jax.Array], jax.Array | None, Any]:
    """Random float arguments (scaled to keep activations O(1)), labels, the cotangent."""
    keys = jax.random.split(key, len(case.shapes) + 2)
    arrays = []
    for i, shape in enumerate(case.shapes):
        fan_in = math.prod(shape[:-1]) if case.conv is not None and i == 1 else 1
        scale = 1.0 / math.sqrt(fan_in)
        arrays.append(jax.random.normal(keys[i], shape, jnp.float32) * scale)
    labels = None
    if case.labels:
        labels = jax.random.randint(keys[-2], case.shapes[0][:1], 0, case.labels)
    out = jax.eval_shape(
        lambda *a: case.call(ref_ops, *a), *arrays, *([labels] if case.labels else [])
    )
    ct = jax.random.normal(keys[-1], out.shape, out.dtype)
    return arrays, labels, ct


def _loss_fn(case: OpCase, ops: Any, labels: Any, n_float: int) -> Callable:
    def loss(*arrays_and_ct):
        *arrays, ct = arrays_and_ct
        extra = [labels] if labels is not None else []
        return jnp.sum(case.call(ops, *arrays, *extra) * ct)

    return jax.jit(jax.value_and_grad(loss, argnums=tuple(range(n_float))))


def run_op_case(case: OpCase, *, repeats: int = 10, min_time_s: float = 0.2) -> dict:
    """Median forward+backward time and compiled temp bytes, hand against autodiff."""
    arrays, labels, ct = _inputs(case, jax.random.key(0))
    row: dict[str, Any] = {"name": case.name, "shapes": [list(s) for s in case.shapes]}
    for tag, ops in (("hand", hand_ops), ("autodiff", ref_ops)):
        step = _loss_fn(case, ops, labels, len(arrays))
        stats = compiled_stats(step, *arrays, ct)
        t = time_call(stats.compiled, *arrays, ct, repeats=repeats, min_time_s=min_time_s)
        row[f"{tag}_ms"] = t.median_s * 1e3
        row[f"{tag}_temp_bytes"] = stats.temp_bytes
    row["ratio"] = row["hand_ms"] / row["autodiff_ms"]
    if case.conv is not None:
        row["conv_gflop"] = conv_flops(case) / 1e9
    return row


def conv_flops(case: OpCase) -> float:
    """FLOPs of the forward convolution (each of ∂L/∂X and ∂L/∂W costs the same)."""
    (n, h, w, cin), (kh, kw, _, cout) = case.shapes
    s = case.conv.get("stride", 1)
    ho, wo = (
        (h // s, w // s)
        if case.conv.get("padding") == "SAME"
        else ((h - kh) // s + 1, (w - kw) // s + 1)
    )
    return 2.0 * n * ho * wo * cout * kh * kw * cin


def run_conv_parts(case: OpCase, *, repeats: int = 10, min_time_s: float = 0.2) -> dict:
    """GFLOP/s of the forward conv, the hand ∂L/∂X and ∂L/∂W helpers, and autodiff's ∂L/∂W
    alone (``jax.grad`` with respect to the kernel only: XLA drops the unused forward value and
    the input gradient, leaving the one weight-gradient convolution)."""
    (x, w), _, ct = _inputs(case, jax.random.key(0))
    kw = case.conv
    fns = {
        "forward": (jax.jit(lambda x, w: hand_ops.conv2d(x, w, **kw)), (x, w)),
        "grad_input": (jax.jit(lambda ct, w: conv2d_grad_input(ct, w, x.shape, **kw)), (ct, w)),
        "grad_weight": (jax.jit(lambda x, ct: conv2d_grad_weight(x, ct, w.shape, **kw)), (x, ct)),
        "autodiff_grad_weight": (
            jax.jit(jax.grad(lambda w, x, ct: jnp.sum(ref_ops.conv2d(x, w, **kw) * ct))),
            (w, x, ct),
        ),
    }
    flops = conv_flops(case)
    row: dict[str, Any] = {"name": case.name}
    for part, (fn, args) in fns.items():
        t = time_call(fn, *args, repeats=repeats, min_time_s=min_time_s)
        row[f"{part}_gflops"] = flops / t.median_s / 1e9
    return row
