"""Every Python example in README.md runs as written and prints what its comments say."""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest

README = pathlib.Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2, "README.md lost its Python examples (the ops, the nn layers)"


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


ROOT = README.parent
TEXT = README.read_text()
BASH = re.findall(r"```bash\n(.*?)```", TEXT, re.S)


def _ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_readme_states_the_python_version_pyproject_requires():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    required = pyproject["project"]["requires-python"]
    assert required.startswith(">="), required
    assert f"Python ≥ {required[2:]}" in TEXT


def test_ci_runs_exactly_the_readmes_test_and_docs_commands():
    test_block = next(b for b in BASH if "pytest" in b).strip()
    assert test_block.splitlines() == ["python -m pytest -q -n 2"]
    docs_block = next(b for b in BASH if "sphinx" in b).strip()
    build = docs_block.split("&&")[-1].strip()
    ci = _ci_commands()
    assert test_block in ci, f".ci/run does not run the README's test command {test_block!r}"
    assert build in ci, f".ci/run does not build the docs with the README's command {build!r}"


def test_readme_digits_split_size_is_the_loaders():
    from cnnjax.data import load_dataset

    n_test = load_dataset("digits").test_images.shape[0]
    assert f"split of {n_test} images" in TEXT


def test_readme_links_point_to_files_that_exist():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT)
    assert links, "README.md should link to the docs"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_readme_performance_table_is_the_recorded_run():
    recorded = (ROOT / "benchmarks" / "results" / "bench_cpu_2core.txt").read_text()
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| ([\d.]+) \|", TEXT, re.M)
    assert {r[0] for r in rows} == {"digits_cnn", "lenet5", "vgg_small", "resnet20"}
    for model, hand, auto, ratio in rows:
        pattern = rf"^{model}\s+{hand}\s+{auto}\s+{re.escape(ratio)}\s"
        assert re.search(pattern, recorded, re.M), f"README row {model} is not in the results"
