"""Audit a zoo model's parameter gradients: hand VJPs against autodiff, end to end.

The loss (mean softmax cross-entropy of a small random batch for a classifier, mean
``mse_loss`` against a random target image for an autoencoder; BatchNorm in training mode,
Dropout with a fixed key) is audited as a function of the parameters with ``check_vjp``:
``model.apply(..., ops=cnnjax.ops)`` against ``model.apply(..., ops=cnnjax.reference)``, in
float64. Second order, vmap and low-precision checks are left to the per-op grid.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from cnnjax.audit.check import check_vjp
from cnnjax.audit.grid import CaseResult


def model_loss(model, ops_module, state: Any, *, image_target: bool = False):
    """``(params, images, targets, key) -> mean loss`` with ``ops_module``'s ops: the
    cross-entropy against integer labels, or with ``image_target`` the MSE against images."""

    def loss(params, images, targets, key):
        out, _ = model.apply(params, state, images, train=True, key=key, ops=ops_module)
        if image_target:
            return ops_module.mse_loss(out, targets).mean()
        return ops_module.softmax_cross_entropy(out, targets).mean()

    loss.__name__ = "loss"
    return loss


def audit_model(name: str, *, batch: int = 2, seed: int = 0, quick: bool = False) -> CaseResult:
    """Audit the zoo model ``name``'s parameter gradients in float64.

    Args:
      name: a key of ``cnnjax.nn.zoo.MODELS`` or of ``cnnjax.nn.zoo.AUTOENCODERS``.
      batch: examples in the random batch.
      seed: seeds the parameters, the batch, the dropout key and the probes.
      quick: fewer finite-difference directions (1 instead of 2 per parameter leaf).

    Returns:
      A ``CaseResult`` with op ``"model"`` and case ``"model-<name>"``.

    Raises:
      ValueError: for an unknown model name.
    """
    from cnnjax import ops, reference
    from cnnjax.nn import zoo

    autoencoder = name in zoo.AUTOENCODERS
    if name not in zoo.MODELS and not autoencoder:
        known = sorted([*zoo.MODELS, *zoo.AUTOENCODERS])
        raise ValueError(f"cnnjax audit: unknown model {name!r}; known: {known}")
    with jax.enable_x64(True):
        if autoencoder:
            model, in_shape = zoo.AUTOENCODERS[name](), zoo.AUTOENCODER_SHAPES[name]
        else:
            model, in_shape = zoo.get_model(name), tuple(zoo.INPUT_SHAPES[name])
        init_key, dropout_key = jax.random.split(jax.random.PRNGKey(seed))
        params, state, out_shape = model.init(init_key, in_shape)
        state = jax.tree.map(lambda a: np.asarray(a, np.float64), state)
        rng = np.random.default_rng(seed)
        images = rng.standard_normal((batch, *in_shape))
        if autoencoder:
            targets = rng.standard_normal((batch, *out_shape))
        else:
            targets = rng.integers(0, out_shape[-1], size=batch).astype(np.int32)
        result = check_vjp(
            model_loss(model, ops, state, image_target=autoencoder),
            model_loss(model, reference, state, image_target=autoencoder),
            params,
            images,
            targets,
            dropout_key,
            argnums=0,
            dtypes=(),
            second_order=False,
            transforms=True,
            full_jacobian_max=0,
            fd_directions=1 if quick else 2,
            fd_eps=1e-6,  # relu and max-pool kinks lie everywhere in a network: a small step
            seed=seed,
            name=f"model-{name}",
        )
    return CaseResult("model", result)
