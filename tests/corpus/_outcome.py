"""Run one bad input and name its outcome: the bad-input corpus's one helper module.

Every corpus input runs through one of two runners that return the same :class:`Outcome`:
:func:`run_case` for a CLI run (a :class:`Case`: the arguments, the exit status and a fragment
of the message the user should see, and for runs that touch an earlier one the folder whose
bytes must not change), :func:`run_call` for a single call (configs, data files, ops, nn: the
exception type and fragment expected, or ``None`` for a call that must succeed). Every test
then asserts with :func:`check`, which shows ``outcome.detail`` when the kind is not the
expected one.

Kinds (:data:`KINDS`): ``clear error`` (the expected exception or exit status, with a message
naming the problem), ``accepted`` (no error, none expected), ``silent`` (no error where one
was expected), ``misleading`` (an error whose type, status or message does not name the
problem), ``traceback`` (any other exception, or a CLI run that printed a Python traceback),
``data loss`` (a kept folder changed), ``questionable`` (a run's own after-check found
something wrong on disk) and ``hang``.

``CNNJAX_CORPUS_RECORD=path.jsonl`` appends every CLI case's outcome to that file instead of
asserting it, so the same corpus can be tabulated against another checkout
(``PYTHONPATH=<checkout>``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cnnjax import cli

KINDS = (
    "clear error",
    "accepted",
    "silent",
    "misleading",
    "traceback",
    "data loss",
    "questionable",
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
    """What one input did: its ``kind``, the kind ``expect``-ed, the CLI exit ``status`` (None
    for a call), what the user saw (``output``), and whether it was ``recorded`` instead of
    asserted."""

    kind: str
    expect: str
    status: int | None
    output: str
    recorded: bool = False

    @property
    def detail(self) -> str:
        return f"{self.kind}, expected {self.expect} (exit {self.status}):\n{self.output[-3000:]}"


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


def run_case(
    case: Case, main: Callable[[list[str]], int] = cli.main, timeout_s: int = 120
) -> Outcome:
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
                traceback.print_exc(file=out)
                crashed = True
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = out.getvalue()
    kind = _kind(case, status, text, crashed, hung, before)
    return Outcome(kind, case.expect, status, text, _record(case, kind))


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
        return "silent"  # accepted what it should have refused
    return "clear error" if named and status == case.status else "misleading"


def _record(case: Case, kind: str) -> bool:
    """Append the outcome to ``$CNNJAX_CORPUS_RECORD`` when set; whether it did."""
    path = os.environ.get("CNNJAX_CORPUS_RECORD")
    if path:
        row = {"id": case.id, "expect": case.expect, "kind": kind}
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
    return bool(path)


def run_call(fn: Callable[[], object], error: type[BaseException] | None, fragment: str) -> Outcome:
    """Call ``fn()``: it should raise ``error`` with ``fragment`` in its message (any case), or
    succeed when ``error`` is None. ``output`` is ``"Type: message"`` of what it raised."""
    expect = "accepted" if error is None else "clear error"
    try:
        fn()
    except (ValueError, TypeError, FileNotFoundError) as e:
        text = f"{type(e).__name__}: {e}"
        named = error is not None and isinstance(e, error) and fragment.lower() in str(e).lower()
        return Outcome("clear error" if named else "misleading", expect, None, text)
    except Exception as e:  # noqa: BLE001 - any other exception is the defect being measured
        text = "".join(traceback.format_exception_only(e)).strip()
        return Outcome("traceback", expect, None, text)
    return Outcome("accepted" if error is None else "silent", expect, None, "no error")


def check(outcome: Outcome) -> None:
    """The assertion every corpus test makes (skipped for an outcome recorded instead)."""
    if not outcome.recorded:
        assert outcome.kind == outcome.expect, outcome.detail


def check_cases(cases) -> None:
    """Run every case, then assert once, listing each failing case's id and why."""
    failures = []
    for case in cases:
        try:
            check(run_case(case))
        except AssertionError as e:
            failures.append(f"{case.id}: {e}")
    assert not failures, "\n\n".join(failures)
