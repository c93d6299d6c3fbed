"""Run one bad input and name its outcome; shared by the bad-input corpus (tests/corpus).

Outcomes: ``clear`` (the expected exception, or CLI exit status, with a message naming the
problem), ``accepted`` (no error, none expected), ``silent`` (no error where one was
expected), ``misleading`` (an error whose type or message does not name the problem) and
``traceback`` (any other exception, or a CLI run that printed a Python traceback).
"""

from __future__ import annotations

import contextlib
import io
import traceback

from cnnjax import cli


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
