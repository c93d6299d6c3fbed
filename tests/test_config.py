"""Experiment configs: shipped files load, overrides apply, and every bad config fails with a
message naming the file and the dotted key."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from cnnjax.config import (
    STEP_PLACEHOLDERS,
    ConfigError,
    ConfigTypeError,
    ExperimentConfig,
    load_config,
    make_optimizer,
    parse_override,
    resolve_step_args,
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
    metric = {"classify": "accuracy", "denoise": "test mse"}[cfg.task.kind]
    assert metric in text.lower() and "#" in text  # a comment says what to expect
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


def test_step_placeholders_resolve_and_a_long_warmup_is_capped():
    args = {"warmup_steps": "steps_per_epoch", "decay_steps": "total_steps", "peak_value": 0.1}
    assert resolve_step_args(args, 30, 10) == {
        "warmup_steps": 10,
        "decay_steps": 30,
        "peak_value": 0.1,
    }
    capped = resolve_step_args(args, 10, 10)  # a one-epoch run of a one-epoch warm-up
    assert capped["warmup_steps"] == 9 and capped["decay_steps"] == 10
    assert resolve_step_args(args, 1, 1)["warmup_steps"] == 0
    table = {"boundaries_and_scales": {"100": 0.1, "200": 0.5}}
    assert resolve_step_args(table, 300, 10)["boundaries_and_scales"] == {100: 0.1, 200: 0.5}
    with pytest.raises(ConfigError, match=r"`optimizer.schedule.decay_steps`: resolves to 0"):
        resolve_step_args({"decay_steps": 0}, 10, 10)


def test_make_optimizer_runs_the_resolved_schedule(tmp_path):
    # digits_cnn for one epoch of 4 steps: warm-up capped at 3 steps, cosine over the last one
    cfg = load_config(EXPERIMENTS[[p.stem for p in EXPERIMENTS].index("digits_cnn")])
    cfg = load_config(write(tmp_path, to_toml(cfg)), ["train.epochs=1"])
    opt = make_optimizer(cfg, 4)
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    steps = []
    with jax.numpy_dtype_promotion("standard"):  # optax mixes its int32 count with floats
        for _ in range(5):
            updates, state = opt.update({"w": jnp.ones(())}, state, params)
            steps.append(float(-updates["w"]))
    assert steps[0] == 0.0 and steps[3] == pytest.approx(3e-3, rel=1e-3)  # peak at step 3
    assert steps[4] == pytest.approx(0.0, abs=1e-9)  # end of the cosine


def test_schedule_none_gives_a_constant_learning_rate_and_round_trips(tmp_path):
    path = EXPERIMENTS[[p.stem for p in EXPERIMENTS].index("digits_cnn")]
    cfg = load_config(path, ["optimizer.schedule=none", "optimizer.learning_rate=2e-3"])
    assert cfg.optimizer.schedule is None and cfg.optimizer.learning_rate == 2e-3
    assert "schedule" not in to_toml(cfg)
    assert load_config(write(tmp_path, to_toml(cfg))) == cfg


@pytest.mark.parametrize(
    "override, key, match",
    [
        ("optimizer.b1=abc", "optimizer.b1", "must be a number, got 'abc'"),
        ("optimizer.b1=5.0", "optimizer.b1", r"must be in \[0.0, 1.0\), got 5.0"),
        ("optimizer.learning_rate=1e12", "optimizer.learning_rate", r"\(0.0, 10.0\]"),
        ("optimizer.eps=-1.0", "optimizer.eps", "must be in"),
        ("optimizer.nesterov=1", "optimizer.nesterov", "must be a boolean"),
        ("optimizer.mu_dtype=float33", "optimizer.mu_dtype", "not a dtype name"),
        ('name="../../x"', "name", "plain folder name"),
        ('name=".."', "name", "plain folder name"),
    ],
)
def test_optimizer_arguments_and_run_names_are_checked(tmp_path, override, key, match):
    expect_error(tmp_path, BASE, key, overrides=[override], match=match)


def test_schedule_placeholder_typo_lists_the_placeholders(tmp_path):
    text = BASE.replace("learning_rate = 0.001", "") + (
        '[optimizer.schedule]\nname = "cosine_decay_schedule"\ninit_value = 0.1\n'
        'decay_steps = "total_step"\n'
    )
    message = expect_error(tmp_path, text, "optimizer.schedule.decay_steps", match="placeholder")
    assert all(f'"{p}"' in message for p in STEP_PLACEHOLDERS), message


def test_a_config_that_is_not_utf8_names_the_byte_offset(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.replace('"t"', '"t\xe9"').encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 text: byte 0xe9 at byte offset"):
        load_config(path)
