"""Backpropagation through a tiny CNN, one textbook step at a time, from cnnjax's hand VJPs.

The network is conv (3x3, 1 -> 2 channels) -> 2x2 max pool -> flatten -> dense (8 -> 3) ->
softmax cross-entropy, on one 6x6 image with small fixed numbers. The script prints, in order:

1. the loss's gradient with respect to the outputs, dL/dy = softmax(y) - onehot(label);
2. through the fully connected layer, dL/dz_j = sum_i dL/dy_i * w_ji;
3. through pooling and the receptive fields, dL/dx_k = sum_j dL/dz_j * dz_j/dx_k, non-zero
   only for the x_k inside neuron j's receptive field;
4. the parameter gradients dL/dtheta;
5. one gradient-descent step, and the loss before and after it.

Every quantity comes from cnnjax's hand-written backward passes (``conv2d_grad_input``,
``conv2d_grad_weight`` and the VJPs of ``max_pool2d``, ``dense`` and
``softmax_cross_entropy``) and is checked against ``jax.grad`` of the same loss written with
``cnnjax.reference`` (plain JAX, differentiated by JAX), in float64. A picture,
``receptive_field.png``, shows which input cells receive gradient from one pooled cell.

Run it:  python experiments/backprop_walkthrough.py [OUT_DIR]
"""

from __future__ import annotations

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import cnnjax as cj
from cnnjax import reference

LEARNING_RATE = 0.1
LABEL = 2


def inputs() -> dict[str, jax.Array]:
    """The fixed image, label and parameters (float64: call under ``jax.enable_x64(True)``)."""
    x = ((np.arange(36) * 7) % 11 - 5).reshape(1, 6, 6, 1) / 4.0
    w1 = np.array(
        [
            [[[0.5, -0.25]], [[0.25, 0.75]], [[-0.5, 0.5]]],
            [[[-0.75, 0.25]], [[0.75, -0.5]], [[0.25, 0.25]]],
            [[[-0.25, 0.5]], [[0.5, -0.75]], [[0.25, -0.75]]],
        ]
    )  # (KH, KW, C_in, C_out) = (3, 3, 1, 2)
    b1 = np.array([0.1, -0.1])
    w2 = np.round(np.random.default_rng(0).normal(0.0, 0.5, (8, 3)), 1)  # (In, Out) = (8, 3)
    b2 = np.array([0.0, 0.1, -0.1])
    arrays = {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    return {k: jnp.asarray(v, jnp.float64) for k, v in arrays.items()} | {
        "label": jnp.asarray([LABEL])
    }


def loss_with(ops, x, w1, b1, w2, b2, label):
    """The network's loss with an op set: ``cnnjax`` (hand VJPs) or ``cnnjax.reference``."""
    z = ops.conv2d(x, w1, b1)
    p = ops.max_pool2d(z, 2)
    y = ops.dense(ops.flatten(p), w2, b2)
    return ops.softmax_cross_entropy(y, label)[0]


def backprop(a: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Forward, then the four backward steps by hand VJPs; returns every named quantity."""
    x, w1, b1, w2, b2, label = (a[k] for k in ("x", "w1", "b1", "w2", "b2", "label"))
    # forward, keeping each VJP (the hand-written _bwd of each op, bound to its residuals)
    z = cj.conv2d(x, w1, b1)  # (1, 4, 4, 2)
    p, pool_vjp = jax.vjp(lambda t: cj.max_pool2d(t, 2), z)  # (1, 2, 2, 2)
    f = cj.flatten(p)  # (1, 8)
    y, dense_vjp = jax.vjp(cj.dense, f, w2, b2)  # (1, 3)
    losses, loss_vjp = jax.vjp(lambda t: cj.softmax_cross_entropy(t, label), y)
    # 1. dL/dy: the loss's gradient with respect to the network's outputs
    (ct_y,) = loss_vjp(jnp.ones_like(losses))
    # 2. through the fully connected layer: dL/dz_j = sum_i dL/dy_i w_ji, and dL/dW2, dL/db2
    ct_f, ct_w2, ct_b2 = dense_vjp(ct_y)
    # 3. through pooling (to each window's max) and the convolution's receptive fields
    (ct_z,) = pool_vjp(ct_f.reshape(p.shape))
    ct_x = cj.conv2d_grad_input(ct_z, w1, x.shape)
    # 4. the convolution's parameter gradients
    ct_w1 = cj.conv2d_grad_weight(x, ct_z, w1.shape)
    ct_b1 = jnp.sum(ct_z, axis=(0, 1, 2))
    return {
        "loss": losses[0],
        "y": y,
        "dL/dy": ct_y,
        "dL/dz(dense input)": ct_f,
        "dL/dW2": ct_w2,
        "dL/db2": ct_b2,
        "dL/d(conv output)": ct_z,
        "dL/dx": ct_x,
        "dL/dW1": ct_w1,
        "dL/db1": ct_b1,
    }


def autodiff(a: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The same gradients from ``jax.grad`` of the reference network."""
    names = ("x", "w1", "b1", "w2", "b2")
    grads = jax.grad(loss_with, argnums=(1, 2, 3, 4, 5))(
        reference, *(a[k] for k in names), a["label"]
    )
    return dict(zip(("dL/dx", "dL/dW1", "dL/db1", "dL/dW2", "dL/db2"), grads, strict=True))


def receptive_field(a: dict[str, jax.Array], cell: tuple[int, int, int]) -> np.ndarray:
    """Which input cells one pooled cell ``(i, j, c)`` reaches: dp_cell/dx, by the hand VJPs."""
    z = cj.conv2d(a["x"], a["w1"], a["b1"])
    p, pool_vjp = jax.vjp(lambda t: cj.max_pool2d(t, 2), z)
    one_hot = jnp.zeros_like(p).at[(0, *cell)].set(1.0)
    (ct_z,) = pool_vjp(one_hot)
    return np.asarray(cj.conv2d_grad_input(ct_z, a["w1"], a["x"].shape))[0, :, :, 0]


def _relative(got, want) -> float:
    scale = float(jnp.max(jnp.abs(want)))
    return float(jnp.max(jnp.abs(got - want))) / (scale if scale else 1.0)


def _show(name: str, value: jax.Array) -> None:
    text = np.array2string(np.asarray(value), precision=4, suppress_small=True, max_line_width=96)
    print(f"{name} {tuple(value.shape)}:\n{text}\n")


def main(out_dir: str | pathlib.Path | None = None) -> dict:
    """Run the walkthrough in float64; print each step; return hand and autodiff gradients."""
    with jax.enable_x64(True):
        return _walk(out_dir)


def _walk(out_dir) -> dict:
    a = inputs()
    hand, auto = backprop(a), autodiff(a)
    probs = jax.nn.softmax(hand["y"])
    print(f"loss L = {float(hand['loss']):.6f}   (label {LABEL}, softmax {np.asarray(probs)[0]})\n")
    print("1. dL/dy = softmax(y) - onehot(label)")
    _show("   dL/dy", hand["dL/dy"])
    print("2. through the dense layer: dL/dz_j = sum_i dL/dy_i * w_ji  (= dL/dy @ W2^T)")
    _show("   dL/dz", hand["dL/dz(dense input)"])
    print("3. through max pooling (each window's cotangent goes to its maximum) and the conv:")
    print("   dL/dx_k = sum_j dL/dz_j * dz_j/dx_k, non-zero only inside j's receptive field")
    _show("   dL/d(conv output), channel 0", hand["dL/d(conv output)"][0, :, :, 0])
    _show("   dL/dx", hand["dL/dx"][0, :, :, 0])
    print("4. the parameter gradients")
    for name in ("dL/dW2", "dL/db2", "dL/db1"):
        _show(f"   {name}", hand[name])
    _show("   dL/dW1, output channel 0", hand["dL/dW1"][:, :, 0, 0])
    print("hand VJPs against jax.grad of the reference network (relative to the largest entry):")
    errors = {k: _relative(hand[k], auto[k]) for k in auto}
    for name, err in errors.items():
        print(f"   {name:7s} {err:.1e}")
    theta = {"w1": "dL/dW1", "b1": "dL/db1", "w2": "dL/dW2", "b2": "dL/db2"}
    stepped = {k: a[k] - LEARNING_RATE * hand[grad] for k, grad in theta.items()}
    after = float(loss_with(cj, a["x"], *(stepped[k] for k in theta), a["label"]))
    before = float(hand["loss"])
    print(f"\n5. one gradient-descent step, lr {LEARNING_RATE}: L {before:.6f} -> {after:.6f}")
    cell = (0, 1, 0)
    field = receptive_field(a, cell)
    print(f"\nreceptive field of pooled cell {cell}: input cells with non-zero gradient")
    print((field != 0).astype(int))
    if out_dir is not None:
        _plot(a, field, cell, hand, pathlib.Path(out_dir) / "receptive_field.png")
    return {"hand": hand, "autodiff": auto, "errors": errors, "loss_after": after, "field": field}


def _plot(a, field, cell, hand, path: pathlib.Path) -> None:
    """Input, the pooled cell's receptive field and the full dL/dx, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    panels = (
        (np.asarray(a["x"])[0, :, :, 0], "input x", "gray"),
        (field, f"d p{cell} / d x: its receptive field", "coolwarm"),
        (np.asarray(hand["dL/dx"])[0, :, :, 0], "dL/dx (all pooled cells)", "coolwarm"),
    )
    for ax, (img, title, cmap) in zip(axes, panels, strict=True):
        limit = float(np.max(np.abs(img))) or 1.0
        vmin = -limit if cmap == "coolwarm" else None
        vmax = limit if cmap == "coolwarm" else None
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        dark = (img < img.min() + 0.4 * (img.max() - img.min())) if cmap == "gray" else img * 0
        for (r, c), v in np.ndenumerate(img):
            color = "white" if dark[r, c] else "black"
            ax.text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=7, color=color)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(img.shape[1]))
        ax.set_yticks(range(img.shape[0]))
    rows, cols = np.nonzero(field)
    axes[1].add_patch(
        plt.Rectangle(
            (cols.min() - 0.5, rows.min() - 0.5),
            cols.max() - cols.min() + 1,
            rows.max() - rows.min() + 1,
            fill=False,
            edgecolor="black",
            linewidth=2,
        )
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/walkthrough")
