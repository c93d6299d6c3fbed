"""An experiment built from its config: data, model, op set, optimizer and initial state.

``build_experiment`` checks everything that can be checked before a step runs (the data
loads, the model fits its images, the batch fits the data, optax accepts the optimizer) and
``probe_optimizer`` runs one eager update; both raise ``ConfigError`` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from cnnjax import nn, ops, reference
from cnnjax.config import ConfigError, ExperimentConfig, make_optimizer
from cnnjax.data import AUGMENTATIONS, load_dataset, num_batches
from cnnjax.tasks import Classify, Task, task_of


class Experiment(NamedTuple):
    """Everything built from a config before the first step."""

    data: Any  # cnnjax.data.Dataset
    model: Any  # cnnjax.nn.Layer
    ops: Any  # cnnjax.ops or cnnjax.reference
    optimizer: optax.GradientTransformation
    params: Any
    state: Any
    opt_state: Any
    num_classes: int
    steps_per_epoch: int
    task: Task = Classify()  # cnnjax.tasks: what the model learns


def build_experiment(config: ExperimentConfig) -> Experiment:
    """Load the data, build and initialise the model and the optimizer for ``config``."""
    src = config.source
    augment = config.data.augment
    if augment is not None and augment not in AUGMENTATIONS:
        raise ConfigError(src, "data.augment", f"must be one of {AUGMENTATIONS}, got {augment!r}")
    try:
        data = load_dataset(config.data.name, **config.data.options)
    except (ValueError, TypeError) as e:
        raise ConfigError(src, "data", str(e)) from None
    except FileNotFoundError as e:
        key = _data_file_key(config.data.options, str(e))
        raise ConfigError(src, key, f"{e} (relative paths start at {Path.cwd()})") from None
    task = task_of(config)
    data = task.prepare(data)  # denoise: pixels in [0, 1]
    num_classes = config.model.num_classes or int(data.num_classes)
    if num_classes < data.num_classes:
        raise ConfigError(
            src, "model.num_classes", f"is {num_classes} but the data has {data.num_classes}"
        )
    n_train, batch = data.train_images.shape[0], config.train.batch_size
    if batch > n_train:
        raise ConfigError(
            src, "train.batch_size", f"is {batch} but the data has only {n_train} training images"
        )
    steps_per_epoch = num_batches(n_train, batch, drop_last=True)
    init_key = jax.random.fold_in(jax.random.key(config.seed), 0)
    model, params, state = _build_model(config, task, data, num_classes, init_key)
    optimizer = make_optimizer(config, steps_per_epoch)  # ConfigError naming the key
    return Experiment(
        data,
        model,
        ops if config.train.grad == "hand" else reference,
        optimizer,
        params,
        state,
        optimizer.init(params),
        num_classes,
        steps_per_epoch,
        task,
    )


def _build_model(config: ExperimentConfig, task: Task, data, num_classes: int, key):
    """The zoo model of ``model.name`` for the task, initialised on the data's images;
    ``ConfigError`` naming ``model.name`` for a model of the other task kind, or one whose
    input (classify) or output (denoise: image to image) does not fit the images."""
    src, name, kind = config.source, config.model.name, task.kind
    image_shape = tuple(data.train_images.shape[1:])
    models = {"classify": nn.zoo.MODELS, "denoise": nn.zoo.AUTOENCODERS}
    if name not in models[kind]:
        other = [k for k, zoo in models.items() if k != kind and name in zoo]
        what = f"{name!r} is a model for task.kind = {other[0]!r}" if other else None
        raise ConfigError(
            src,
            "model.name",
            f"{what or f'unknown model {name!r}'}; task.kind = {kind!r} trains one of "
            f"{sorted(models[kind])}",
        )
    want = nn.zoo.INPUT_SHAPES.get(name, image_shape)  # autoencoders are fully convolutional
    if image_shape != tuple(want):
        raise ConfigError(
            src,
            "model.name",
            f"model {name!r} expects images of shape {tuple(want)} but data "
            f"{config.data.name!r} has {image_shape}; pick a matching model or data set",
        )
    if kind == "denoise":
        model = nn.zoo.AUTOENCODERS[name]()
    else:
        model = nn.zoo.get_model(name, num_classes=num_classes)
    params, state, out_shape = model.init(key, image_shape, dtype=data.train_images.dtype)
    if kind == "denoise" and tuple(out_shape) != image_shape:
        raise ConfigError(
            src,
            "model.name",
            f"task.kind = 'denoise' needs an output shaped like the input {image_shape}; "
            f"model {name!r} gives {tuple(out_shape)}",
        )
    return model, params, state


def _data_file_key(options: Mapping[str, Any], message: str) -> str:
    """The ``data.options`` key whose file or folder a ``FileNotFoundError`` names."""
    given = [k for k in ("path", "images", "labels") if k in options]
    for k in given:
        if str(Path(options[k])) in message:
            return f"data.options.{k}"
    return f"data.options.{given[0]}" if given else "data.options.path"


def probe_optimizer(exp: Experiment, config: ExperimentConfig) -> None:
    """One eager optimizer update on the real parameter tree (zero gradients), so a bad
    optimizer argument fails here, naming ``optimizer``, and not inside the compiled step."""
    zeros = jax.tree.map(jnp.zeros_like, exp.params)
    try:
        with jax.numpy_dtype_promotion("standard"):
            updates, _ = exp.optimizer.update(zeros, exp.opt_state, exp.params)
        jax.block_until_ready(updates)
    except Exception as e:  # optax's own errors are of many types
        raise ConfigError(
            config.source, "optimizer", f"one optimizer update failed: {type(e).__name__}: {e}"
        ) from None


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` (dotted config keys)."""
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            flat.update(flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat
