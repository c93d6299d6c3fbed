"""Run one bad input and name its outcome: the bad-input corpus's one helper module.

Two entry points share it. For the CLI run lifecycle and damaged checkpoints:

Each corpus case is a :class:`Case`: the CLI arguments, what the user should see (the exit
status and a fragment of the message naming the problem) and, for cases that touch an
earlier run, the folder whose bytes must not change. :func:`run_case` runs it and returns an
:class:`Outcome` whose ``kind`` is one of :data:`KINDS`; a test asserts
``outcome.kind == case.expect`` and shows ``outcome.detail`` when not.

``CNNJAX_CORPUS_RECORD=path.jsonl`` appends every outcome to that file instead, so the same
corpus can be tabulated against another checkout (``PYTHONPATH=<checkout>``).

For single calls (configs, data files, ops, nn) and short CLI runs, :func:`outcome`,
:func:`cli_outcome` and :func:`expect`:

Outcomes: ``clear`` (the expected exception, or CLI exit status, with a message naming the
problem), ``accepted`` (no error, none expected), ``silent`` (no error where one was
expected), ``misleading`` (an error whose type or message does not name the problem) and
``traceback`` (any other exception, or a CLI run that printed a Python traceback).
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


# ----------------------------------------------- single calls and short CLI runs


def outcome(fn, error: type[BaseException] | None, fragment: str) -> tuple[str, str]:
    """Call ``fn()``; ``error=None`` means the input should be accepted."""
    try:
        fn()
    except (ValueError, TypeError, FileNotFoundError) as e:
        if error is None:
            return "misleading", f"raised {type(e).__name__}: {e}"
        ok = isinstance(e, error) and fragment.lower() in str(e).lower()
        return ("clear" if ok else "misleading"), f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - any other exception is the defect being measured
        return "traceback", "".join(traceback.format_exception_only(e)).strip()
    return ("accepted" if error is None else "silent"), "no error"


def run_cli(argv: list[str]) -> tuple[int | str, str]:
    """``cnnjax.cli.main(argv)`` in this process: ``(exit status, stdout + stderr)``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            rc: int | str = cli.main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=out)
            rc = "traceback"
    return rc, out.getvalue()


def cli_outcome(argv: list[str], status: int, fragment: str) -> tuple[str, str]:
    """Run the CLI; ``status=0`` means the run should succeed."""
    rc, text = run_cli(argv)
    if rc == "traceback" or "Traceback" in text:
        return "traceback", text[-2000:]
    if rc != status:
        return ("silent" if rc == 0 else "misleading"), f"exit {rc}: {text[-2000:]}"
    if fragment.lower() not in text.lower():
        return "misleading", f"exit {rc}: {text[-2000:]}"
    return ("accepted" if status == 0 else "clear"), text[-300:]


def expect(result: tuple[str, str], error_expected: bool) -> None:
    """Assert a corpus case's outcome: ``clear`` for bad input, ``accepted`` for good."""
    want = "clear" if error_expected else "accepted"
    assert result[0] == want, f"{result[0]}: {result[1]}"
