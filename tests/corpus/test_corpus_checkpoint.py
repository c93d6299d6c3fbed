"""Corpus: damaged and hostile checkpoints, each under ``cnnjax eval`` and ``--resume``.

Every case must end in one clear line naming the file and what is wrong (exit 1, no
traceback), and leave the run folder's bytes as they were.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnjax import cli
from tests.corpus._outcome import Case, check, check_cases, run_case
from tests.corpus._runs import TINY, copier, eval_argv, train_argv


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus-ckpt") / "base"
    assert cli.main(train_argv(out)) == 0
    return out


def _rewrite_meta(path: Path, change) -> None:
    """Rewrite the ``__meta__`` entry of the checkpoint at ``path`` with ``change(meta)``."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["__meta__"] = np.array(change(json.loads(str(arrays["__meta__"]))))
    np.savez(path, **arrays)


def _drop(key):
    return lambda meta: json.dumps({k: v for k, v in meta.items() if k != key})


def _crc_corrupt(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)  # a parameter array
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + 8]) + data[start + 8 :]


def _zip_without_npy(_: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


# name -> (how the bytes are damaged, a fragment of the message)
DAMAGE = {
    "empty": (lambda b: b"", "empty"),
    "truncated-half": (lambda b: b[: len(b) // 2], "truncated"),
    "truncated-header": (lambda b: b[:100], "truncated"),
    "crc-corrupt": (_crc_corrupt, "damaged checkpoint"),
    "plain-text": (lambda b: b"epoch = 3\nthis is not a checkpoint\n", "not a .npz"),
    "random-bytes": (lambda b: bytes(range(256)) * 8, "not a .npz"),
    "zip-without-arrays": (_zip_without_npy, "not a cnnjax checkpoint"),
}
# name -> (a change of the metadata JSON, a fragment of the message)
META = {
    "meta-not-json": (lambda meta: "{not json", "damaged checkpoint metadata"),
    "meta-a-list": (lambda meta: "[1, 2]", "not a JSON object"),
    "meta-no-format": (_drop("format"), "unknown checkpoint format"),
    "meta-no-config": (_drop("config"), "lacks 'config'"),
    "meta-no-epoch": (_drop("epoch"), "lacks 'epoch'"),
    "meta-no-normalization": (_drop("normalization"), "normalization"),
}


def _cases(base: Path, tmp: Path) -> list[Case]:
    cases = []
    for name, (damage, fragment) in DAMAGE.items():

        def setup(run=tmp / name, damage=damage):
            copier(base, run)()
            ckpt = run / "checkpoint.npz"
            ckpt.write_bytes(damage(ckpt.read_bytes()))

        cases.append(Case(f"{name}", [], fragment=fragment, setup=setup, keep=tmp / name))
    for name, (change, fragment) in META.items():

        def setup(run=tmp / name, change=change):
            copier(base, run)()
            _rewrite_meta(run / "checkpoint.npz", change)

        cases.append(Case(f"{name}", [], fragment=fragment, setup=setup, keep=tmp / name))
    return cases


NAMES = [*DAMAGE, *META]


@pytest.mark.parametrize("command", ["eval", "resume"])
def test_damaged_checkpoint(command, base_run, tmp_path):
    def cases():
        for case in _cases(base_run, tmp_path):
            run = tmp_path / case.id
            if command == "eval":
                case.argv = eval_argv(run / "checkpoint.npz")
            else:
                case.argv = train_argv(run, "--resume")
            if command == "resume" and case.id == "meta-no-normalization":
                case.status, case.expect, case.fragment = 0, "accepted", "nothing to do"
            case.id = f"{command}-{case.id}"
            yield case

    check_cases(cases())


def test_checkpoint_that_is_a_folder_and_one_of_another_model(base_run, tmp_path):
    folder = tmp_path / "folder"
    cases = [
        Case(
            "eval-checkpoint-is-a-folder",
            eval_argv(base_run),
            fragment="is a folder",
        ),
        Case(
            "eval-another-model",
            eval_argv(base_run / "checkpoint.npz", items=[*TINY, "model.num_classes=12"]),
            fragment="expected shape (12,)",
            keep=base_run,
        ),
        Case(
            "eval-missing-checkpoint",
            eval_argv(tmp_path / "none.npz"),
            fragment="no such checkpoint",
        ),
        Case(
            "resume-checkpoint-is-a-folder",
            train_argv(folder, "--resume"),
            fragment="is a folder",
            setup=lambda: (folder / "checkpoint.npz").mkdir(parents=True),
            keep=folder,
        ),
    ]
    for case in cases:
        check(run_case(case))
