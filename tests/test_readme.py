"""Every Python example in README.md runs as written and prints what its comments say."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3, "README.md lost its Python examples"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs_and_prints_what_it_says(code, capsys):
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    # Each `print(...)  # expected` line states its output; compare them in order.
    expected = [
        m.group(1).strip()
        for line in code.splitlines()
        if line.startswith("print(")
        and (m := re.search(r"\)\s+# (.*)$", line))
        and not m.group(1).startswith("the ")
    ]
    assert expected, "an example should state what it prints"
    assert printed[: len(expected)] == expected
