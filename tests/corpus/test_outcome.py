"""The corpus's runners name each outcome right, and ``check`` fails on the wrong one."""

from __future__ import annotations

import pytest

from tests.corpus._outcome import Case, check, run_call, run_case


def _raise(error):
    def fn():
        raise error

    return fn


@pytest.mark.parametrize(
    "fn, error, kind",
    [
        (_raise(ValueError("bad `x`")), ValueError, "clear error"),
        (_raise(ValueError("bad thing")), ValueError, "misleading"),  # names no `x`
        (_raise(TypeError("bad `x`")), ValueError, "misleading"),  # the wrong type
        (_raise(IndexError("deep")), ValueError, "traceback"),
        (lambda: None, ValueError, "silent"),
        (lambda: None, None, "accepted"),
        (_raise(ValueError("bad `x`")), None, "misleading"),
    ],
)
def test_run_call_kinds(fn, error, kind):
    outcome = run_call(fn, error, "`x`")
    assert outcome.kind == kind, outcome.detail
    assert outcome.expect == ("accepted" if error is None else "clear error")


def _main(status, text):
    def main(argv):
        print(text)
        return status

    return main


@pytest.mark.parametrize(
    "status, text, kind",
    [(1, "error: bad `x`", "clear error"), (2, "error: bad `x`", "misleading"), (0, "", "silent")],
)
def test_run_case_kinds(status, text, kind):
    assert run_case(Case("c", [], 1, "`x`"), _main(status, text)).kind == kind


def test_check_fails_on_an_unexpected_kind(monkeypatch):
    monkeypatch.delenv("CNNJAX_CORPUS_RECORD", raising=False)
    check(run_call(lambda: None, None, ""))
    with pytest.raises(AssertionError, match="silent, expected clear error"):
        check(run_call(lambda: None, ValueError, "`x`"))
