"""Train the zoo's small U-Net (``digits_autoencoder``) to denoise scikit-learn's 8x8 digits.

The embedded digits data (no download), Gaussian noise of standard deviation ``NOISE`` added
to the pixels in ``[0, 1]``, the per-example ``mse_loss`` between the reconstruction and the
clean image, Adam. The U-Net uses ``conv_transpose2d``, ``group_norm``, a skip connection and
``mse_loss``, all with hand-written VJPs. The script prints the test MSE of the noisy input
(the baseline) and of the reconstruction, checks that the hand-VJP and autodiff losses agree
over the first steps, and writes ``denoise.png``: clean / noisy / reconstructed test digits.

Expect (seed 0, 2 CPU cores): test MSE 0.063 for the noisy input against 0.022 reconstructed
(about a third of it) after 12 epochs: 21 s of training, 48 s for the whole script on a
shared 2-core machine (2026-12-02).

Run it:  python experiments/digits_denoise.py [OUT_DIR] [EPOCHS]
"""

from __future__ import annotations

import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import cnnjax
import cnnjax.reference
from cnnjax.data import load_dataset
from cnnjax.nn import zoo

NOISE = 0.25
BATCH = 32
LEARNING_RATE = 3e-3


def digits01() -> tuple[np.ndarray, np.ndarray]:
    """Train and test digits as float32 pixels in [0, 1], ``(N, 8, 8, 1)``."""
    d = load_dataset("digits")
    mean, std = np.float32(d.mean[0]), np.float32(d.std[0])
    return d.train_images * std + mean, d.test_images * std + mean


def _noisy(key, clean):
    return clean + NOISE * jax.random.normal(key, clean.shape, clean.dtype)


def make_step(model, ops, optimizer):
    """The jitted step ``(params, state, opt_state, clean, key) -> (..., loss)``."""

    def loss_fn(params, state, clean, key):
        out, new_state = model.apply(params, state, _noisy(key, clean), train=True, ops=ops)
        return jnp.mean(ops.mse_loss(out, clean)), new_state

    @jax.jit
    def step(params, state, opt_state, clean, key):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, clean, key)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and int counts
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    return step


def test_mse(model, params, state, clean, key) -> tuple[float, float]:
    """Per-pixel MSE of the noisy test images and of their reconstructions."""
    noisy = _noisy(key, clean)
    out, _ = model.apply(params, state, noisy, ops=cnnjax.ops)
    noisy_mse = cnnjax.mse_loss(noisy, clean)
    return float(jnp.mean(noisy_mse)), float(jnp.mean(cnnjax.mse_loss(out, clean)))


def train(epochs: int = 12, seed: int = 0, check_steps: int = 5) -> dict:
    """Train; return the losses, the hand/autodiff agreement and the test MSEs."""
    train_images, test_images = digits01()
    model = zoo.digits_autoencoder()
    params, state, _ = model.init(jax.random.key(seed), (8, 8, 1), dtype=jnp.float32)
    optimizer = optax.adam(LEARNING_RATE)
    opt_state = optimizer.init(params)
    hand = make_step(model, cnnjax.ops, optimizer)
    auto = make_step(model, cnnjax.reference, optimizer)
    carry_auto = (params, state, opt_state)
    steps = train_images.shape[0] // BATCH
    rng = np.random.default_rng(seed)
    losses, agreement, start = [], [], time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(train_images.shape[0])
        for i in range(steps):
            batch = jnp.asarray(train_images[order[i * BATCH : (i + 1) * BATCH]])
            key = jax.random.fold_in(jax.random.key(seed + 1), epoch * steps + i)
            params, state, opt_state, loss = hand(params, state, opt_state, batch, key)
            losses.append(float(loss))
            if len(agreement) < check_steps:  # autodiff runs the same steps alongside
                *carry_auto, loss_auto = auto(*carry_auto, batch, key)
                agreement.append((float(loss), float(loss_auto)))
    wall = time.perf_counter() - start
    noisy_mse, out_mse = test_mse(model, params, state, jnp.asarray(test_images), jax.random.key(7))
    return {
        "model": model,
        "params": params,
        "state": state,
        "losses": losses,
        "agreement": agreement,
        "noisy_mse": noisy_mse,
        "test_mse": out_mse,
        "wall_s": wall,
        "test_images": test_images,
    }


def plot(result: dict, path: pathlib.Path, count: int = 10) -> None:
    """Rows: clean, noisy and reconstructed test digits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = jnp.asarray(result["test_images"][:count])
    noisy = _noisy(jax.random.key(7), jnp.asarray(result["test_images"]))[:count]
    out, _ = result["model"].apply(result["params"], result["state"], noisy, ops=cnnjax.ops)
    fig, axes = plt.subplots(3, count, figsize=(1.1 * count, 3.6))
    for row, (images, label) in enumerate(
        ((clean, "clean"), (noisy, "noisy"), (out, "reconstructed"))
    ):
        for j in range(count):
            ax = axes[row, j]
            ax.imshow(np.clip(np.asarray(images[j, :, :, 0]), 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(
        f"digits_autoencoder, noise std {NOISE}: test MSE {result['noisy_mse']:.4f} noisy, "
        f"{result['test_mse']:.4f} reconstructed",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(out_dir="runs/digits_denoise", epochs: int = 12) -> dict:
    result = train(epochs)
    for step, (h, a) in enumerate(result["agreement"]):
        print(f"step {step}: loss hand {h:.6f}  autodiff {a:.6f}")
    print(
        f"{epochs} epochs in {result['wall_s']:.1f} s: test MSE {result['noisy_mse']:.4f} "
        f"(noisy input) -> {result['test_mse']:.4f} (reconstruction)"
    )
    path = pathlib.Path(out_dir) / "denoise.png"
    plot(result, path)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["runs/digits_denoise"]), *map(int, sys.argv[2:3]))
