"""Every Python example on the documentation site runs as written and prints what it says.

The docstrings' examples run as doctests (``--doctest-modules``); this covers the hand-written
pages under ``docs/``.
"""

from __future__ import annotations

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).parents[2] / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md"))
BLOCKS = [
    (page, i, code)
    for page in PAGES
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


def _expected(code: str) -> list[str]:
    """The ``print(...)  # output`` comments, in order (a comment starting "the " is prose)."""
    return [
        m.group(1).strip()
        for line in code.splitlines()
        if line.lstrip().startswith("print(")
        and (m := re.search(r"\)\s+# (.*)$", line))
        and not m.group(1).startswith("the ")
    ]


def test_the_site_has_examples():
    pages = {page.name for page, _, _ in BLOCKS}
    assert {"using.md", "nn.md", "audit.md"} <= pages, f"examples only on {sorted(pages)}"


@pytest.mark.parametrize(
    "page, code", [(p, c) for p, _, c in BLOCKS], ids=[f"{p.stem}-{i}" for p, i, _ in BLOCKS]
)
def test_docs_example_runs_and_prints_what_it_says(page, code, capsys):
    exec(compile(code, str(page), "exec"), {"__name__": "__docs_example__"})
    printed = capsys.readouterr().out.splitlines()
    expected = _expected(code)
    assert expected, f"an example in {page.name} should state what it prints"
    assert printed[: len(expected)] == expected
