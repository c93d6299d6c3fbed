"""The generated pages cover the code: every op, every audit case, every config field."""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "docs" / "_ext"))
apigen = pytest.importorskip("apigen")


def test_every_op_is_on_its_family_page_with_its_bwd_and_every_case():
    import cnnjax.ops
    from cnnjax.audit.cases import ALL_CASES

    families = apigen.op_families()
    assert sorted(op for ops in families.values() for op in ops) == sorted(cnnjax.ops.OPS)
    for module_name, ops in families.items():
        page = apigen.family_page(module_name, ops)
        module = importlib.import_module(module_name)
        for op in ops:
            assert f".. autofunction:: {module_name}.{op}\n" in page, op
            _, bwd = apigen._fwd_bwd(module, op)
            if bwd is None:  # built on other ops: it must say which, and they must have a bwd
                via = apigen.composed_of(module, op)
                assert via, f"{op}: no custom_vjp, and its docstring names no op it is built on"
                assert f"built on ``{via[0]}``" in page, op
                continue
            assert f".. autofunction:: {module_name}.{bwd.__name__}\n" in page, op
        for case in (c for c in ALL_CASES if c.op in ops):
            assert f"``{case.name}``" in page, case.name


def _leaf_fields(cls: type, prefix: str = "") -> set[str]:
    keys = set()
    for field in dataclasses.fields(cls):
        keys.add(f"{prefix}{field.name}")
        default = (
            field.default_factory if field.default_factory is not dataclasses.MISSING else None
        )
        if default is not None and dataclasses.is_dataclass(value := default()):
            keys |= _leaf_fields(type(value), f"{prefix}{field.name}.")
    return keys


def test_config_page_lists_every_field_with_type_and_default():
    from cnnjax.config import ExperimentConfig

    rows = apigen.config_rows(ExperimentConfig)
    keys = {key for key, *_ in rows}
    assert _leaf_fields(ExperimentConfig) - {"source"} <= keys
    assert [r[:3] for r in rows if r[0] in ("train.batch_size", "name")] == [
        ("name", "str", "required"),
        ("train.batch_size", "int", "64"),
    ]
    undescribed = [key for key, *_, meaning in rows if not meaning]
    assert not undescribed, f"config keys without a comment in cnnjax/config.py: {undescribed}"


def test_field_comments_reads_the_lines_above_and_the_trailing_comment():
    @dataclasses.dataclass
    class Demo:
        """Doc."""

        # two lines
        # above
        a: int = 1
        b: str = "x"  # trailing
        c: float = 0.0

    assert apigen.field_comments(Demo) == {"a": "two lines above", "b": "trailing", "c": ""}
