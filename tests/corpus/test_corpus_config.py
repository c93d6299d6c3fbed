"""Bad-input corpus, configs: each case fails with a ConfigError naming the key (or is
rightly accepted), in-process through the loader; a few go through ``cnnjax train``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnjax.config import ConfigError, ConfigTypeError, load_config, make_optimizer
from cnnjax.experiment import build_experiment
from tests.corpus._outcome import Case, check, run_call, run_case

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "experiments" / "digits_cnn.toml"
DENOISE = ROOT / "experiments" / "digits_denoise.toml"
SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))
BASE = """name = "t"
[optimizer]
name = "adamw"
learning_rate = 0.001
"""
SCHED = """name = "t"
[optimizer]
name = "adamw"
[optimizer.schedule]
"""

E, T = ConfigError, ConfigTypeError
# (id, file text, --set overrides, expected error (None: accepted), message fragment)
LOAD_CASES = [
    ("b1-string", BASE, ["optimizer.b1=abc"], T, "`optimizer.b1`: must be a number"),
    ("b1-5", BASE, ["optimizer.b1=5.0"], E, "`optimizer.b1`: must be in [0.0, 1.0)"),
    ("b1-nan", BASE, ["optimizer.b1=nan"], E, "`optimizer.b1`: must be a finite"),
    ("b2-negative", BASE, ["optimizer.b2=-0.1"], E, "`optimizer.b2`"),
    ("b1-bool", BASE, ["optimizer.b1=true"], T, "`optimizer.b1`"),
    ("lr-1e12", BASE, ["optimizer.learning_rate=1e12"], E, "`optimizer.learning_rate`"),
    ("lr-zero", BASE, ["optimizer.learning_rate=0"], E, "`optimizer.learning_rate`"),
    ("lr-negative", BASE, ["optimizer.learning_rate=-1e-3"], E, "`optimizer.learning_rate`"),
    ("lr-inf", BASE, ["optimizer.learning_rate=inf"], E, "`optimizer.learning_rate`"),
    ("lr-string", BASE, ["optimizer.learning_rate=fast"], T, "`optimizer.learning_rate`"),
    ("weight-decay-negative", BASE, ["optimizer.weight_decay=-1"], E, "`optimizer.weight_decay`"),
    ("eps-negative", BASE, ["optimizer.eps=-1e-8"], E, "`optimizer.eps`"),
    ("eps-string", BASE, ["optimizer.eps=tiny"], T, "`optimizer.eps`"),
    ("sgd-momentum-1.5", BASE, ["optimizer.name=sgd", "optimizer.momentum=1.5"], E, "momentum"),
    ("sgd-nesterov-string", BASE, ["optimizer.name=sgd", "optimizer.nesterov=yes"], T, "boolean"),
    ("mu-dtype-bad", BASE, ["optimizer.mu_dtype=float33"], E, "not a dtype name"),
    ("mu-dtype-ok", BASE, ["optimizer.mu_dtype=bfloat16"], None, ""),
    ("mask-object", BASE, ["optimizer.mask=true"], E, "cannot be set in a config"),
    ("unknown-arg", BASE, ["optimizer.beta1=0.9"], E, "unknown argument of optax.adamw"),
    ("unknown-optimizer", BASE, ["optimizer.name=adamm"], E, "not an optax optimizer"),
    ("rmsprop-decay-2", BASE, ["optimizer.name=rmsprop", "optimizer.decay=2.0"], E, "decay"),
    ("adam-ok", BASE, ["optimizer.name=adam", "optimizer.b1=0.8"], None, ""),
    (
        "placeholder-typo",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.1\ndecay_steps = "total_step"\n',
        [],
        E,
        "`optimizer.schedule.decay_steps`: unknown step placeholder 'total_step'; a step count "
        'is an integer or one of "total_steps", "steps_per_epoch"',
    ),
    (
        "placeholder-in-number",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = "total_steps"\ndecay_steps = 5\n',
        [],
        T,
        "`optimizer.schedule.init_value`: must be a number",
    ),
    (
        "steps-negative",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.1\ndecay_steps = -5\n',
        [],
        E,
        "`optimizer.schedule.decay_steps`: must be >= 0",
    ),
    (
        "steps-float",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.1\ndecay_steps = 2.5\n',
        [],
        T,
        "`optimizer.schedule.decay_steps`: must be an integer",
    ),
    (
        "alpha-2",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.1\ndecay_steps = 5\nalpha = 2\n',
        [],
        E,
        "`optimizer.schedule.alpha`",
    ),
    (
        "all-zero-schedule",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.0\ndecay_steps = 5\n',
        [],
        E,
        "nothing learns",
    ),
    (
        "peak-string",
        SCHED + 'name = "warmup_constant_schedule"\ninit_value = 0.0\npeak_value = "high"\n'
        "warmup_steps = 3\n",
        [],
        T,
        "`optimizer.schedule.peak_value`",
    ),
    (
        "boundaries-list",
        SCHED + 'name = "piecewise_constant_schedule"\ninit_value = 0.1\n'
        "boundaries_and_scales = [100, 0.1]\n",
        [],
        T,
        "`optimizer.schedule.boundaries_and_scales`: must be a table",
    ),
    (
        "boundaries-bad-key",
        SCHED + 'name = "piecewise_constant_schedule"\ninit_value = 0.1\n'
        "boundaries_and_scales = {abc = 0.1}\n",
        [],
        E,
        "keys must be step numbers",
    ),
    (
        "sgdr-not-list",
        SCHED + 'name = "sgdr_schedule"\ncosine_kwargs = 3\n',
        [],
        T,
        "`optimizer.schedule.cosine_kwargs`: must be a list of tables",
    ),
    (
        "sgdr-table-not-list",
        SCHED + 'name = "sgdr_schedule"\n[optimizer.schedule.cosine_kwargs]\ninit_value = 0.0\n',
        [],
        T,
        "`optimizer.schedule.cosine_kwargs`: must be a list of tables",
    ),
    (
        "sgdr-bad-cycle",
        SCHED + 'name = "sgdr_schedule"\ncosine_kwargs = [{init_value = 0.0, peak_value = 0.1, '
        'warmup_steps = 1, decay_steps = "total_step"}]\n',
        [],
        E,
        "`optimizer.schedule.cosine_kwargs[0].decay_steps`: unknown step placeholder",
    ),
    (
        "sgdr-ok",
        SCHED + 'name = "sgdr_schedule"\ncosine_kwargs = [{init_value = 0.0, peak_value = 0.1, '
        'warmup_steps = 1, decay_steps = "steps_per_epoch"}]\n',
        [],
        None,
        "",
    ),
    (
        "unknown-schedule",
        SCHED + 'name = "cosine"\ninit_value = 0.1\n',
        [],
        E,
        "`optimizer.schedule.name`: 'cosine' is not an optax schedule",
    ),
    (
        "unknown-schedule-arg",
        SCHED + 'name = "cosine_decay_schedule"\ninit_value = 0.1\ndecay_steps = 5\nwarmup = 1\n',
        [],
        E,
        "`optimizer.schedule.warmup`: unknown argument",
    ),
    ("schedule-and-lr", DIGITS, ["optimizer.learning_rate=1e-3"], E, "not both"),
    ("schedule-none-no-lr", DIGITS, ["optimizer.schedule=none"], E, "`optimizer.learning_rate`"),
    (
        "schedule-none-constant-lr",
        DIGITS,
        ["optimizer.schedule=none", "optimizer.learning_rate=1e-3"],
        None,
        "",
    ),
    ("schedule-string", DIGITS, ["optimizer.schedule=cosine"], T, "`optimizer.schedule`"),
    ("name-dotdot", BASE, ['name="../../x"'], E, "`name`: must be a plain folder name"),
    ("name-slash", BASE, ['name="a/b"'], E, "`name`: must be a plain folder name"),
    ("name-backslash", BASE, ['name="a\\\\b"'], E, "`name`"),
    ("name-dot", BASE, ['name="."'], E, "`name`"),
    ("name-empty", BASE, ['name=" "'], E, "`name`: must not be empty"),
    ("name-newline", BASE, ['name="a\\nb"'], E, "`name`"),
    ("name-ok", BASE, ['name="run-2.b_c"'], None, ""),
    ("epochs-zero", BASE, ["train.epochs=0"], E, "`train.epochs`"),
    ("epochs-string", BASE, ['train.epochs="3"'], T, "`train.epochs`"),
    ("unknown-key", BASE, ["train.epoch=3"], E, "`train.epoch`: unknown key"),
    ("set-no-equals", BASE, ["train.epochs"], E, "KEY=VALUE"),
    ("set-into-scalar", BASE, ["name.x=1"], E, "`name`: is not a table"),
    ("bad-toml", BASE + "[train\n", [], E, "invalid TOML"),
    ("latin1-byte", BASE.replace('"t"', '"caf\xe9"'), [], E, "byte 0xe9 at byte offset 11"),
    ("task-kind-typo", BASE, ["task.kind=denoising"], E, "`task.kind`: must be one of"),
    ("task-kind-number", BASE, ["task.kind=1"], E, "`task.kind`: must be one of"),
    ("task-unknown-key", BASE, ["task.sigma=0.1"], E, "`task.sigma`: unknown key"),
    ("noise-negative", DENOISE, ["task.noise=-0.1"], E, "`task.noise`: must be finite and >= 0"),
    ("noise-nan", DENOISE, ["task.noise=nan"], E, "`task.noise`: must be finite"),
    ("noise-inf", DENOISE, ["task.noise=inf"], E, "`task.noise`: must be finite"),
    ("noise-string", DENOISE, ["task.noise=high"], T, "`task.noise`: must be a number"),
    ("noise-zero-ok", DENOISE, ["task.noise=0"], None, ""),
    (
        "noise-for-classify",
        BASE,
        ["task.noise=0.1"],
        E,
        '`task.noise`: is for task.kind = "denoise"',
    ),
    (
        "denoise-label-smoothing",
        DENOISE,
        ["train.label_smoothing=0.1"],
        E,
        "`train.label_smoothing`: is meaningless for task.kind = 'denoise'",
    ),
    (
        "denoise-num-classes",
        DENOISE,
        ["model.num_classes=10"],
        E,
        "`model.num_classes`: is meaningless for task.kind = 'denoise'",
    ),
]


def _write(tmp_path: Path, text) -> Path:
    if isinstance(text, Path):
        return text
    path = tmp_path / "exp.toml"
    data = text.encode("latin-1") if "\xe9" in text else text.encode()
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "text, sets, error, fragment", [c[1:] for c in LOAD_CASES], ids=[c[0] for c in LOAD_CASES]
)
def test_load(tmp_path, text, sets, error, fragment):
    path = _write(tmp_path, text)
    result = run_call(lambda: load_config(path, sets), error, fragment)
    check(result)
    if error is not None:
        assert result.output.split(": ", 1)[1].startswith(str(path)), result.detail  # the file


def test_missing_file(tmp_path):
    check(run_call(lambda: load_config(tmp_path / "no.toml"), E, "cannot read"))


# Resolution for a run of a given length: (id, overrides, steps per epoch, error, fragment).
BUILD_CASES = [
    ("digits-one-epoch", ["train.epochs=1"], 89, None, ""),
    ("digits-one-step", ["train.epochs=1"], 1, None, ""),
    (
        "digits-constant-lr",
        ["optimizer.schedule=none", "optimizer.learning_rate=2e-3"],
        89,
        None,
        "",
    ),
    (
        "decay-shorter-than-warmup",
        ["optimizer.schedule.decay_steps=50", "train.epochs=3"],
        89,
        E,
        "`optimizer.schedule.decay_steps`: is 50 but counts the warm-up too, so it must exceed "
        "warmup_steps = 89; total_steps = 267 (steps_per_epoch = 89)",
    ),
    (
        "decay-zero",
        ['optimizer.schedule={name="cosine_decay_schedule", init_value=0.1, decay_steps=0}'],
        10,
        E,
        "`optimizer.schedule.decay_steps`: resolves to 0 but must be >= 1",
    ),
]


@pytest.mark.parametrize(
    "sets, per_epoch, error, fragment",
    [c[1:] for c in BUILD_CASES],
    ids=[c[0] for c in BUILD_CASES],
)
def test_build(sets, per_epoch, error, fragment):
    config = load_config(DIGITS, sets)
    check(run_call(lambda: make_optimizer(config, per_epoch), error, fragment))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_config_builds_for_one_epoch(path):
    config = load_config(path, ["train.epochs=1"])
    check(run_call(lambda: make_optimizer(config, 3), None, ""))


# A model of the other task kind, refused when the experiment is built (the zoo is there).
MODEL_CASES = [
    (
        "classify-autoencoder",
        DIGITS,
        "model.name=digits_autoencoder",
        "'digits_autoencoder' is a model for task.kind = 'denoise'",
    ),
    (
        "denoise-classifier",
        DENOISE,
        "model.name=digits_cnn",
        "'digits_cnn' is a model for task.kind = 'classify'",
    ),
    ("denoise-unknown", DENOISE, "model.name=unet", "unknown model 'unet'"),
]


@pytest.mark.parametrize(
    "path, item, fragment", [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES]
)
def test_model_of_the_other_task_kind(path, item, fragment):
    config = load_config(path, [item, "data.options.limit=32"])
    check(run_call(lambda: build_experiment(config), E, f"`model.name`: {fragment}"))


def test_denoise_model_whose_output_is_not_image_shaped(monkeypatch):
    """An image-to-image model must give back the input's shape (the U-Net pools by 2, then
    upsamples by 2: fine on 8x8; a model that drops a row is refused, naming the key)."""
    from cnnjax import nn

    crop = lambda: nn.Sequential([nn.Conv2d(1, 2, padding="VALID")])  # noqa: E731  8x8 -> 7x7
    monkeypatch.setitem(nn.zoo.AUTOENCODERS, "crop", crop)
    config = load_config(DENOISE, ["model.name=crop", "data.options.limit=32"])
    fragment = "`model.name`: task.kind = 'denoise' needs an output shaped like the input"
    check(run_call(lambda: build_experiment(config), E, fragment))


CLI_CASES = [
    ("b1-string", ["--set", "optimizer.b1=abc"], "`optimizer.b1`"),
    ("lr-1e12", ["--set", "optimizer.learning_rate=1e12"], "`optimizer.learning_rate`"),
    ("placeholder-typo", ["--set", "optimizer.schedule.decay_steps=total_step"], "total_steps"),
    ("name-escape", ["--set", 'name="../../x"'], "`name`"),
    ("both-lr-and-schedule", ["--set", "optimizer.learning_rate=0.1"], "not both"),
]


@pytest.mark.parametrize(
    "sets, fragment", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_train_refuses(tmp_path, sets, fragment):
    argv = ["train", str(DIGITS), "--out", str(tmp_path / "run"), *sets]
    check(run_case(Case("cli-train-refuses", argv, 1, fragment)))
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_cli_latin1_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(BASE.replace('"t"', '"caf\xe9"').encode("latin-1"))
    check(run_case(Case("cli-latin1", ["train", str(path)], 1, "byte offset 11")))


def test_cli_one_epoch_of_digits_cnn_trains(tmp_path):
    """The shipped schedule (a one-epoch warm-up) on a one-epoch run: the warm-up is capped."""
    sets = ["train.epochs=1", "data.options.limit=64", "output.plot=false"]
    argv = ["train", str(DIGITS), "--out", str(tmp_path / "run")]
    for item in sets:
        argv += ["--set", item]
    check(run_case(Case("cli-one-epoch", argv, 0, "test_accuracy=")))
