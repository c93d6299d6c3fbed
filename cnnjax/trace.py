"""A per-layer gradient report: the chain ∂L/∂y → ∂L/∂z → ∂L/∂x → ∂L/∂θ, layer by layer.

:func:`trace_model` runs one batch through a model twice: with ``cnnjax.ops`` (so
``jax.grad`` composes the hand-written VJPs) and with ``cnnjax.reference`` (plain JAX,
differentiated by JAX). For every layer of the model's chain — the top-level
``Sequential``'s layers, nested ``Sequential`` s flattened, a ``Residual`` block as one
layer — it reports the output's shape and statistics, the norms of ∂L/∂(output),
∂L/∂(input) and ∂L/∂(each parameter) from both, and their relative differences, so a user
sees where gradients vanish or explode and that the hand chain equals autodiff at every
layer, not only at the end.

∂L/∂(output of layer i) is read off a zero *probe* added to that output: the loss does not
change, and ∂L/∂probe_i is exactly the cotangent that flows into layer i's backward pass.
The loss is the batch mean of ``softmax_cross_entropy``, as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import cnnjax.ops
import cnnjax.reference
from cnnjax.nn.core import Layer, layer_name

__all__ = [
    "LayerTrace",
    "chain",
    "format_table",
    "layer_grad_norms",
    "plot_trace",
    "trace_model",
]

Path = tuple[str, ...]


class LayerTrace(NamedTuple):
    """One layer's row of the report; the ``*_norm`` pairs are ``(hand, autodiff)``."""

    path: str  # "3_maxpool2d", or "2_sequential/0_conv2d" for a nested chain
    kind: str  # the layer's constructor, "Conv2d", ...
    out_shape: tuple[int, ...]
    out_stats: dict[str, float]  # mean, std, min, max of the (hand) output
    grad_out_norm: tuple[float, float]
    grad_in_norm: tuple[float, float]
    param_grad_norms: dict[str, tuple[float, float]]  # "w" -> (hand, autodiff)
    rel_diff: dict[str, float]  # "grad_out", "grad_in", "param:w", ... -> relative difference

    @property
    def max_rel_diff(self) -> float:
        return max(self.rel_diff.values(), default=0.0)


def chain(model: Layer, prefix: Path = ()) -> list[tuple[Path, Layer]]:
    """The model's layers in application order, nested ``Sequential`` s flattened.

    >>> from cnnjax import nn
    >>> net = nn.Sequential([nn.Conv2d(4, 3), nn.Sequential([nn.Relu(), nn.Flatten()])])
    >>> ["/".join(p) for p, _ in chain(net)]
    ['0_conv2d', '1_sequential/0_relu', '1_sequential/1_flatten']
    """
    children = getattr(model.apply, "children", None)
    if children is None:
        return [(prefix, model)]
    return [item for name, child in children for item in chain(child, (*prefix, name))]


def layer_grad_norms(model: Layer, grads: Any) -> dict[str, jax.Array]:
    """The L2 norm of each layer's parameter gradients, keyed by its :func:`chain` path.

    ``grads`` is a gradient tree shaped like the model's parameters (what ``jax.grad`` of a
    loss in the parameters returns); a layer's norm is over all of its parameters together,
    ``sqrt(sum_leaf sum(g**2))``, accumulated in float32 or wider. Layers without
    parameters are left out. Traceable: ``[output] grad_stats`` calls it inside the jitted
    train step.

    >>> import jax, jax.numpy as jnp
    >>> from cnnjax import nn
    >>> net = nn.Sequential([nn.Dense(3), nn.Relu(), nn.Dense(2)])
    >>> params, _, _ = net.init(jax.random.key(0), (4,), dtype=jnp.float32)
    >>> ones = jax.tree.map(jnp.ones_like, params)  # 4*3+3 and 3*2+2 ones
    >>> {k: round(float(v) ** 2) for k, v in layer_grad_norms(net, ones).items()}
    {'0_dense': 15, '2_dense': 8}
    """
    norms = {}
    for path, _ in chain(model):
        leaves = jax.tree.leaves(_at(grads, path))
        if leaves:
            dtype = jnp.promote_types(leaves[0].dtype, jnp.float32)
            total = sum(jnp.sum(jnp.square(g.astype(dtype))) for g in leaves)
            norms["/".join(path) or "model"] = jnp.sqrt(total)
    return norms


def _at(tree: Any, path: Path) -> Any:
    for name in path:
        tree = tree[name]
    return tree


def _run_chain(layers, ops, params, state, x, probes, key):
    """Apply each layer in turn, adding its probe to its output; returns the outputs too."""
    outputs = []
    for i, ((path, layer), probe) in enumerate(zip(layers, probes, strict=True)):
        x, _ = layer.apply(
            _at(params, path),
            _at(state, path),
            x,
            train=True,
            key=jax.random.fold_in(key, i),
            ops=ops,
        )
        x = x + probe
        outputs.append(x)
    return x, outputs


def _gradients(layers, ops, params, state, images, labels, key):
    """Loss gradients in the model's input, every probe and every parameter; the outputs."""
    probe_shapes = jax.eval_shape(
        lambda x: _run_chain(layers, ops, params, state, x, [0.0] * len(layers), key)[1], images
    )
    probes = [jnp.zeros(s.shape, s.dtype) for s in probe_shapes]

    def loss(x, probes, params):
        logits, outputs = _run_chain(layers, ops, params, state, x, probes, key)
        return jnp.mean(ops.softmax_cross_entropy(logits, labels)), outputs

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))
    (g_x, g_probes, g_params), outputs = grad(images, probes, params)
    return g_x, g_probes, g_params, outputs


def _norm(a) -> float:
    return float(jnp.sqrt(jnp.sum(jnp.square(jnp.asarray(a, jnp.float32)))))


def _rel(hand, auto, scale: float | None = None) -> float:
    """Largest absolute difference relative to ``scale`` (default: the largest autodiff entry;
    0 for all-zero)."""
    hand, auto = np.asarray(hand, np.float64), np.asarray(auto, np.float64)
    if scale is None:
        scale = float(np.max(np.abs(auto), initial=0.0))
    diff = float(np.max(np.abs(hand - auto), initial=0.0))
    return diff / scale if scale > 0 else diff


def trace_model(
    model: Layer,
    params: Any,
    state: Any,
    images: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    seed: int = 0,
) -> list[LayerTrace]:
    """One batch's per-layer report, hand VJPs (``cnnjax.ops``) against autodiff (reference).

    Args:
      model: a ``cnnjax.nn`` layer whose output is ``(N, num_classes)`` logits.
      params, state: its parameters and state, as its ``init`` returned them (or trained).
      images: a batch ``(N, *in_shape)``; labels: integer classes ``(N,)``.
      seed: the dropout key (the same for both op sets, so both drop the same units).

    Returns:
      One :class:`LayerTrace` per layer of :func:`chain` (model), in application order.
    """
    images, labels = jnp.asarray(images), jnp.asarray(labels)
    if images.ndim < 2 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"trace_model: `labels` must have shape (N,) for `images` of shape (N, ...), "
            f"got images {images.shape} and labels {labels.shape}"
        )
    layers = chain(model)
    key = jax.random.key(seed)
    hand = _gradients(layers, cnnjax.ops, params, state, images, labels, key)
    auto = _gradients(layers, cnnjax.reference, params, state, images, labels, key)
    return [_layer_row(i, layers, hand, auto) for i in range(len(layers))]


def _layer_row(i: int, layers, hand, auto) -> LayerTrace:
    path, layer = layers[i]
    (hx, hprobe, hparams, hout), (ax, aprobe, aparams, _) = hand, auto
    h_in, a_in = (hx, ax) if i == 0 else (hprobe[i - 1], aprobe[i - 1])
    y = np.asarray(hout[i], np.float64)
    rel = {"grad_out": _rel(hprobe[i], aprobe[i]), "grad_in": _rel(h_in, a_in)}
    param_norms = {}
    hp = jax.tree_util.tree_flatten_with_path(_at(hparams, path))[0]
    ap = jax.tree.leaves(_at(aparams, path))
    # A parameter gradient is judged on the scale of the layer's largest one: a gradient that
    # is zero up to cancellation (a batch-norm scale before a saturated activation) is then
    # compared as the rounding noise it is, not as 100% relative error between two noises.
    scale = max((float(np.max(np.abs(np.asarray(a)), initial=0.0)) for a in ap), default=0.0)
    for (kpath, h_leaf), a_leaf in zip(hp, ap, strict=True):
        name = "/".join(str(getattr(k, "key", k)) for k in kpath)
        param_norms[name] = (_norm(h_leaf), _norm(a_leaf))
        rel[f"param:{name}"] = _rel(h_leaf, a_leaf, scale or None)
    return LayerTrace(
        path="/".join(path) or layer_name(layer).lower(),
        kind=layer_name(layer),
        out_shape=tuple(y.shape),
        out_stats={
            "mean": float(y.mean()),
            "std": float(y.std()),
            "min": float(y.min()),
            "max": float(y.max()),
        },
        grad_out_norm=(_norm(hprobe[i]), _norm(aprobe[i])),
        grad_in_norm=(_norm(h_in), _norm(a_in)),
        param_grad_norms=param_norms,
        rel_diff=rel,
    )


def format_table(rows: Sequence[LayerTrace]) -> str:
    """The report as a fixed-width table: one line per layer, one more per parameter."""
    head = (
        f"{'layer':28s} {'output':>16s} {'mean':>9s} {'std':>9s} "
        f"{'|dL/dout|':>10s} {'|dL/din|':>10s} {'autodiff |dL/din|':>17s} {'rel diff':>9s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = "x".join(str(d) for d in r.out_shape)
        lines.append(
            f"{r.path:28.28s} {shape:>16s} {r.out_stats['mean']:9.3g} {r.out_stats['std']:9.3g} "
            f"{r.grad_out_norm[0]:10.3e} {r.grad_in_norm[0]:10.3e} {r.grad_in_norm[1]:17.3e} "
            f"{max(r.rel_diff['grad_out'], r.rel_diff['grad_in']):9.1e}"
        )
        for name, (h, a) in r.param_grad_norms.items():
            label = f"  dL/d{name}"
            lines.append(
                f"{label:28s} {'':>16s} {'':>9s} {'':>9s} {h:10.3e} {'':>10s} {a:17.3e} "
                f"{r.rel_diff[f'param:{name}']:9.1e}"
            )
    worst = max(rows, key=lambda r: r.max_rel_diff)
    lines.append(
        f"largest hand/autodiff relative difference: {worst.max_rel_diff:.1e} ({worst.path})"
    )
    return "\n".join(lines)


def to_json(rows: Sequence[LayerTrace]) -> list[dict[str, Any]]:
    """The report as JSON-ready dicts, one per layer."""
    return [
        {
            **r._asdict(),
            "out_shape": list(r.out_shape),
            "grad_out_norm": {"hand": r.grad_out_norm[0], "autodiff": r.grad_out_norm[1]},
            "grad_in_norm": {"hand": r.grad_in_norm[0], "autodiff": r.grad_in_norm[1]},
            "param_grad_norms": {
                k: {"hand": h, "autodiff": a} for k, (h, a) in r.param_grad_norms.items()
            },
            "max_rel_diff": r.max_rel_diff,
        }
        for r in rows
    ]


def plot_trace(rows: Sequence[LayerTrace], path: Any, title: str = "") -> None:
    """Gradient norm per layer (∂L/∂output and ∂L/∂parameters), hand and autodiff, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(rows) + 2), 4.2))
    for which, style in ((0, dict(marker="o", lw=2)), (1, dict(marker="x", ls="--", lw=1))):
        label = ("hand", "autodiff")[which]
        ax.plot(x, [r.grad_out_norm[which] for r in rows], label=f"|dL/d output| {label}", **style)
        params = [
            np.sqrt(sum(v[which] ** 2 for v in r.param_grad_norms.values()))
            if r.param_grad_norms
            else np.nan
            for r in rows
        ]
        marker = ("s", "+")[which]
        ax.plot(x, params, marker, ms=8 - 2 * which, label=f"|dL/d params| {label}")
    ax.set_yscale("log")
    ax.set_xticks(x, [r.path for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("gradient norm")
    ax.set_title(title or "per-layer gradient norms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
