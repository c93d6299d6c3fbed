"""Run one bad-input case through the ``cnnjax`` CLI in-process and classify what happened.

Each corpus case is a :class:`Case`: the CLI arguments, what the user should see (the exit
status and a fragment of the message naming the problem) and, for cases that touch an
earlier run, the folder whose bytes must not change. :func:`run_case` runs it and returns an
:class:`Outcome` whose ``kind`` is one of :data:`KINDS`; a test asserts
``outcome.kind == case.expect`` and shows ``outcome.detail`` when not.

``CNNJAX_CORPUS_RECORD=path.jsonl`` appends every outcome to that file instead, so the same
corpus can be tabulated against another checkout (``PYTHONPATH=<checkout>``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

KINDS = (
    "clear error",
    "accepted",
    "questionable",
    "data loss",
    "traceback",
    "misleading",
    "hang",
)


@dataclass
class Case:
    """One input. ``status`` 0 means the input is fine; ``fragment`` must appear in stdout +
    stderr (case-insensitive); ``keep`` names a folder whose bytes must not change."""

    id: str
    argv: list[str]
    status: int = 1
    fragment: str = ""
    keep: Path | None = None
    setup: Callable[[], None] | None = None
    # Called after the run: a sentence saying what is wrong on disk, or None.
    post: Callable[[], str | None] | None = None
    expect: str = field(default="")

    def __post_init__(self) -> None:
        self.expect = self.expect or ("accepted" if self.status == 0 else "clear error")


@dataclass
class Outcome:
    kind: str
    status: int | None
    output: str

    @property
    def detail(self) -> str:
        return f"{self.kind} (exit {self.status}):\n{self.output[-3000:]}"

    @property
    def text(self) -> str:
        return self.output


def tree_digest(folder: Path | None) -> str:
    """A hash of every file's relative path and bytes under ``folder`` ("" when absent)."""
    if folder is None or not folder.exists():
        return ""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def run_case(case: Case, main: Callable[[list[str]], int], timeout_s: int = 120) -> Outcome:
    """Run ``main(case.argv)`` with captured output and classify the result."""
    if case.setup is not None:
        case.setup()
    before = tree_digest(case.keep)
    out = io.StringIO()
    status, crashed, hung = None, False, False
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                status = int(main(case.argv) or 0)
            except SystemExit as e:  # argparse
                status = e.code if isinstance(e.code, int) else 1
            except _Hang:
                hung = True
            except Exception:  # a raw traceback reaching the user
                import traceback

                traceback.print_exc(file=out)
                crashed = True
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = out.getvalue()
    outcome = Outcome(_kind(case, status, text, crashed, hung, before), status, text)
    _record(case, outcome)
    return outcome


def _kind(case: Case, status, text: str, crashed: bool, hung: bool, before: str) -> str:
    if hung:
        return "hang"
    if crashed or "Traceback (most recent call last)" in text:
        return "traceback"
    if case.keep is not None and tree_digest(case.keep) != before:
        return "data loss"
    if case.post is not None and case.post() is not None:
        return "questionable"
    named = case.fragment.lower() in text.lower()
    if case.status == 0:
        return "accepted" if status == 0 and named else "misleading"
    if status == 0:
        return "questionable"  # accepted what it should have refused
    return "clear error" if named and status == case.status else "misleading"


def _record(case: Case, outcome: Outcome) -> None:
    path = os.environ.get("CNNJAX_CORPUS_RECORD")
    if path:
        row = {"id": case.id, "expect": case.expect, "kind": outcome.kind}
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def check(case: Case, outcome: Outcome) -> None:
    """The assertion every corpus test makes (skipped while recording another checkout)."""
    if not os.environ.get("CNNJAX_CORPUS_RECORD"):
        assert outcome.kind == case.expect, outcome.detail
