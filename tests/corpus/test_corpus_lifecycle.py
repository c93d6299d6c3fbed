"""Corpus: the run lifecycle tried as a new user would (overwrite, resume, eval, locks,
failed starts, unwritable outputs). Each case asserts the exit status, a message fragment
naming the problem, no traceback, and that what was on disk before is byte-for-byte kept."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from cnnjax import cli
from cnnjax.metrics import read_metrics
from tests.corpus._outcome import Case, check, check_cases, run_case
from tests.corpus._runs import DIGITS, TINY, copier, eval_argv, train_argv

NAN_EPOCH_1 = [*TINY, 'optimizer.schedule={name="constant_schedule", value=1e38}']
NAN_EPOCH_2 = [
    *TINY,
    'optimizer.schedule={name="linear_schedule", init_value=0.001, end_value=1e38, '
    'transition_steps=1, transition_begin="steps_per_epoch"}',
    "optimizer.weight_decay=0.0",
    "train.epochs=3",  # the rate jumps at step 3; the loss is NaN from epoch 2 or 3 on
]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus-life") / "base"
    assert cli.main(train_argv(out)) == 0
    return out


def _lock(run: Path, pid: int, host: str) -> None:
    (run / ".lock").write_text(json.dumps({"pid": pid, "host": host, "started": 0}))


def _absent(path: Path):
    return lambda: f"{path} was left behind" if path.exists() else None


def _epochs(run: Path, n: int):
    def post():
        got = len(read_metrics(run / "metrics.jsonl"))
        return None if got == n else f"metrics.jsonl has {got} epochs, expected {n}"

    return post


def _refusals(base: Path, tmp: Path) -> list[Case]:
    """Inputs that must be refused before anything in the run folder changes."""
    r = tmp / "run"
    over = [
        (train_argv(r, "--overwrite", items=[*TINY, s]), f)
        for s, f in [
            ('optimizer.schedule.warmup_steps="total_step"', "warmup_steps"),
            ('data.options.path="typo"', "data"),
            ('model.name="lenet6"', "model.name"),
            ("train.batch_size=64", "train.batch_size"),
            ('optimizer.b1="abc"', "b1"),
            ('optimizer.name="sgdd"', "optimizer"),
        ]
    ]
    resume = [
        (train_argv(r, "--resume", items=[*TINY, s]), f)
        for s, f in [
            ("train.epochs=1", "never drops epochs"),
            ("optimizer.schedule.peak_value=0.5", "optimizer.schedule.peak_value"),
            ("seed=1", "`seed`"),
            ("data.options.num_test=13", "data.options.num_test"),
            ("train.batch_size=8", "train.batch_size"),
            ("train.label_smoothing=0.1", "train.label_smoothing"),
        ]
    ]
    plain = [
        (train_argv(r), "already holds a run"),
        (train_argv(r, items=[*TINY, "train.epochs=3"]), "--resume"),
        (eval_argv(r / "checkpoint.npz", items=[*TINY, "data.options.seed=4"]), "differs"),
        (eval_argv(r / "checkpoint.npz", items=[*TINY, "data.options.num_test=20"]), "differs"),
    ]
    cases = []
    for k, (argv, fragment) in enumerate(over + resume + plain):
        cases.append(Case(f"refuse-{k}-{fragment}", argv, 1, fragment, r, copier(base, r)))
    return cases


def test_refused_inputs_keep_the_run(base_run, tmp_path):
    check_cases(_refusals(base_run, tmp_path))


def test_locks_and_unusable_outputs(base_run, tmp_path):
    r, f = tmp_path / "run", tmp_path / "a-file"
    f.write_text("keep me\n")
    cases = [
        Case(
            "lock-live",
            train_argv(r, "--resume"),
            1,
            "in use by another run",
            r,
            lambda: (copier(base_run, r)(), _lock(r, os.getpid(), socket.gethostname())),
        ),
        Case(
            "lock-other-host",
            train_argv(r, "--overwrite"),
            1,
            "other-host",
            r,
            lambda: (copier(base_run, r)(), _lock(r, 1, "other-host")),
        ),
        Case("out-is-a-file", train_argv(f), 1, "is a file", f.parent),
        Case("out-under-a-file", train_argv(f / "sub"), 1, "is a file", f.parent),
        Case(
            "resume-read-only",
            train_argv(Path("/sys/kernel/cnnjax-run"), "--resume"),
            1,
            "not writable",
        ),
        Case(
            "audit-json-missing-dir",
            ["audit", "--json", str(tmp_path / "no/x.json")],
            2,
            "does not exist",
        ),
        Case(
            "audit-markdown-missing-dir",
            ["audit", "--markdown", str(tmp_path / "no/x.md")],
            2,
            "does not exist",
        ),
        Case(
            "resume-and-overwrite",
            [*train_argv(r), "--resume", "--overwrite"],
            2,
            "not allowed with",
        ),
        Case("missing-config", ["train", str(tmp_path / "none.toml")], 1, "none.toml"),
        Case(
            "eval-other-data-warns",
            eval_argv(r / "checkpoint.npz", "--other-data", items=[*TINY, "data.options.seed=4"]),
            0,
            "warning",
            r,
            copier(base_run, r),
        ),
        Case(
            "resume-finished", train_argv(r, "--resume"), 0, "nothing to do", r, copier(base_run, r)
        ),
    ]
    for case in cases:
        check(run_case(case))


def test_failed_starts_block_nothing_and_good_runs_replace(base_run, tmp_path):
    fresh, ow, ext, dead = (tmp_path / n for n in ("fresh", "ow", "ext", "dead"))
    nan1 = train_argv(fresh, items=NAN_EPOCH_1)
    cases = [
        Case("nan-epoch-1", nan1, 1, "loss is", post=_absent(fresh)),
        Case("nan-epoch-1-retry", nan1, 1, "loss is", post=_absent(fresh)),
        Case(
            "nan-epoch-1-overwrite",
            train_argv(ow, "--overwrite", items=NAN_EPOCH_1),
            1,
            "loss is",
            ow,
            copier(base_run, ow),
        ),
        Case(
            "nan-epoch-2-plots",
            train_argv(tmp_path / "n2", items=[*NAN_EPOCH_2, "output.plot=true"]),
            1,
            "loss is",
            post=lambda: None if (tmp_path / "n2/curves.png").exists() else "no curves.png",
        ),
        Case(
            "stale-lock-taken-over",
            train_argv(dead),
            0,
            "stale lock",
            setup=lambda: (dead.mkdir(), _lock(dead, 2**22 + 12345, socket.gethostname())),
            post=_epochs(dead, 2),
        ),
        Case(
            "resume-nothing-starts",
            train_argv(tmp_path / "new", "--resume"),
            0,
            "starting from epoch 1",
            post=_epochs(tmp_path / "new", 2),
        ),
        Case(
            "overwrite-replaces",
            train_argv(ow, "--overwrite"),
            0,
            "test_accuracy=",
            setup=copier(base_run, ow),
            post=_epochs(ow, 2),
        ),
        Case(
            "resume-extends",
            train_argv(ext, "--resume", items=[*TINY, "train.epochs=3"]),
            0,
            "at epoch 3/3",
            setup=copier(base_run, ext),
            post=_epochs(ext, 3),
        ),
    ]
    for case in cases:
        check(run_case(case))
    summary = json.loads((ext / "summary.json").read_text())
    config = (ext / "config.toml").read_text()
    assert summary["epochs"] == 3 and summary["total_steps"] == 6 and "epochs = 3" in config
    assert not any(p.name.startswith(".") for p in (ow, ext, dead) for p in p.iterdir())


def test_digits_path_is_real():
    assert Path(DIGITS).exists()
