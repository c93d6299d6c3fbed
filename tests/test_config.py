"""Experiment configs: shipped files load, overrides apply, and every bad config fails with a
message naming the file and the dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnjax.config import (
    ConfigError,
    ConfigTypeError,
    ExperimentConfig,
    load_config,
    parse_override,
    to_toml,
)

EXPERIMENTS = sorted((Path(__file__).parent.parent / "experiments").glob("*.toml"))
REQUIRED = {
    "digits_cnn",
    "mnist_lenet5",
    "fashion_mnist_lenet5",
    "cifar10_vgg_small",
    "cifar10_resnet20",
}

BASE = """
name = "t"
seed = 1
[data]
name = "digits"
[model]
name = "digits_cnn"
[optimizer]
name = "adam"
learning_rate = 0.001
[train]
batch_size = 8
epochs = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_required_configs_ship():
    assert REQUIRED <= {p.stem for p in EXPERIMENTS}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_config_loads_documents_itself_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    text = path.read_text()
    assert "accuracy" in text.lower() and "#" in text  # a comment says what to expect
    if cfg.data.name != "digits":
        assert "data.options.path" in text or "path =" in text  # ... and where the data goes
    again = load_config(write(tmp_path, to_toml(cfg)))
    assert again == cfg


def test_defaults_and_values(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    assert isinstance(cfg, ExperimentConfig)
    assert (cfg.seed, cfg.train.batch_size, cfg.train.epochs, cfg.train.grad) == (1, 8, 2, "hand")
    assert cfg.optimizer.learning_rate == 0.001 and cfg.optimizer.schedule is None
    assert cfg.output.dir is None and cfg.model.num_classes is None


def test_overrides_are_toml_values_with_bare_word_fallback(tmp_path):
    cfg = load_config(
        write(tmp_path, BASE),
        [
            "train.epochs=3",
            "optimizer.name=sgd",
            'train.grad="autodiff"',
            "optimizer.momentum=0.9",
            "data.options.limit=10",
            "data.augment=crop_flip",
            "output.plot=false",
        ],
    )
    assert cfg.train.epochs == 3 and cfg.train.grad == "autodiff"
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.args == {"momentum": 0.9}
    assert cfg.data.options == {"limit": 10} and cfg.data.augment == "crop_flip"
    assert cfg.output.plot is False
    assert parse_override("data.options.image_shape=[4, 4, 1]") == (
        "data.options.image_shape",
        [4, 4, 1],
    )


def test_schedule_with_step_placeholders(tmp_path):
    text = BASE.replace("learning_rate = 0.001", "") + (
        '[optimizer.schedule]\nname = "cosine_decay_schedule"\ninit_value = 0.1\n'
        'decay_steps = "total_steps"\n'
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.optimizer.schedule.name == "cosine_decay_schedule"
    assert cfg.optimizer.schedule.args == {"init_value": 0.1, "decay_steps": "total_steps"}


def expect_error(tmp_path, text, key, *, overrides=(), kind=ConfigError, match=None):
    path = write(tmp_path, text)
    with pytest.raises(kind, match=match) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert message.startswith(str(path)), message
    if key is not None:
        assert f"`{key}`" in message, message
    return message


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.epoch=3", "train.epoch"),
        ("bogus=1", "bogus"),
        ("model.nmae=1", "model.nmae"),
        ("optimizer.learning_rat=0.1", "optimizer.learning_rat"),  # not an adam argument
        ("output.directory=1", "output.directory"),
    ],
)
def test_unknown_keys_name_the_file_and_dotted_key(tmp_path, override, key):
    expect_error(tmp_path, BASE, key, overrides=[override], match="unknown")


@pytest.mark.parametrize(
    "override, key",
    [
        ('train.epochs="3"', "train.epochs"),
        ("train.batch_size=8.0", "train.batch_size"),
        ("seed=true", "seed"),
        ("optimizer.learning_rate=fast", "optimizer.learning_rate"),
        ("model=3", "model"),
        ("output.plot=1", "output.plot"),
        ("model.num_classes=[10]", "model.num_classes"),
    ],
)
def test_wrong_types_are_type_errors_naming_the_key(tmp_path, override, key):
    expect_error(tmp_path, BASE, key, overrides=[override], kind=ConfigTypeError)


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.epochs=0", "train.epochs"),
        ("train.batch_size=-4", "train.batch_size"),
        ("train.grad=manual", "train.grad"),
        ("seed=-1", "seed"),
        ("optimizer.learning_rate=-0.1", "optimizer.learning_rate"),
        ("optimizer.learning_rate=nan", "optimizer.learning_rate"),
        ("train.label_smoothing=1.0", "train.label_smoothing"),
        ("model.num_classes=1", "model.num_classes"),
        ("optimizer.name=adamm", "optimizer.name"),
        ("optimizer.name=GradientTransformation", "optimizer.name"),
    ],
)
def test_impossible_values_name_the_key(tmp_path, override, key):
    expect_error(tmp_path, BASE, key, overrides=[override])


def test_schedule_errors(tmp_path):
    sched = '\n[optimizer.schedule]\nname = "cosine_decay_schedule"\ninit_value = 0.1\n'
    # learning rate and schedule together
    expect_error(
        tmp_path, BASE + sched + "decay_steps = 10\n", "optimizer.learning_rate", match="not both"
    )
    text = BASE.replace("learning_rate = 0.001", "") + sched
    expect_error(tmp_path, text, "optimizer.schedule.decay_steps", match="required")
    expect_error(
        tmp_path,
        text + "decay_step = 3\n",
        "optimizer.schedule.decay_step",
        match="unknown argument of optax.cosine_decay_schedule",
    )
    expect_error(
        tmp_path,
        text.replace("cosine_decay_schedule", "cosine"),
        "optimizer.schedule.name",
        match="not an optax schedule",
    )
    no_lr = BASE.replace("learning_rate = 0.001", "")
    expect_error(tmp_path, no_lr, "optimizer.learning_rate", match="required")


def test_missing_file_bad_toml_and_bad_overrides(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: cannot read"):
        load_config(tmp_path / "nope.toml")
    expect_error(tmp_path, BASE + "[train\n", None, match="invalid TOML")
    expect_error(tmp_path, BASE, None, overrides=["train.epochs"], match="KEY=VALUE")
    expect_error(tmp_path, BASE, None, overrides=["train..epochs=1"], match="KEY=VALUE")
    expect_error(tmp_path, BASE, "seed", overrides=["seed.x=1"], match="not a table")
    expect_error(tmp_path, "seed = 1\n[train]\nepochs = 2\n", "name", match="required")
