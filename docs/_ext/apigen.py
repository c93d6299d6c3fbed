"""Generate the op-family pages and the configuration reference from the code at build time.

Run by Sphinx (``builder-inited``) before reading the sources, so a new op in
``cnnjax.ops.OPS``, a new audit case or a new config field appears on the site without anyone
editing a page. Writes reStructuredText under ``docs/_generated/`` (ignored by git):

* ``ops/<module>.rst``: one page per op module (family), each op with its signature and
  docstring, its residuals (the NamedTuple its ``_bwd`` receives), its ``_fwd`` and ``_bwd``
  (the derivation, rendered as math) and its audit cases from ``cnnjax.audit.cases``;
* ``ops/index.rst``: the families;
* ``config.rst``: every config key with its type and default, from the dataclasses;
* ``audit_tables.rst``: the tolerance table and the list of checks.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pathlib
import re
import typing

from sphinx.application import Sphinx


def _rst_title(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def op_families() -> dict[str, list[str]]:
    """``{module name: [op names]}`` in ``cnnjax.ops.OPS`` order."""
    import cnnjax.ops

    families: dict[str, list[str]] = {}
    for name in cnnjax.ops.OPS:
        module = inspect.unwrap(getattr(cnnjax.ops, name)).__module__
        families.setdefault(module, []).append(name)
    return families


def _residual_class(module, op: str, bwd) -> type | None:
    hints = getattr(bwd, "__annotations__", {}) if bwd else {}
    res = hints.get("res")
    if isinstance(res, str):
        res = getattr(module, res, None)
    if isinstance(res, type):
        return res
    camel = "".join(part.capitalize() for part in op.split("_"))
    return getattr(module, f"_{camel}Res", None)


def _residuals_rst(cls: type | None) -> list[str]:
    if cls is None or not hasattr(cls, "_fields"):
        return ["No residual NamedTuple found for this op.", ""]
    hints = typing.get_type_hints(cls) if cls.__annotations__ else {}
    lines = [f"``{cls.__name__}``: what the forward pass keeps for the backward pass.", ""]
    for field in cls._fields:
        kind = hints.get(field)
        kind = _type_name(kind) if kind is not None else "array"
        lines.append(f"* ``{field}`` ({kind})")
    doc = inspect.getdoc(cls) or ""
    if doc and not doc.startswith(f"{cls.__name__}("):
        lines += ["", doc]
    return [*lines, ""]


def _cases_rst(op: str) -> list[str]:
    from cnnjax.audit.cases import ALL_CASES

    cases = [c for c in ALL_CASES if c.op == op]
    if not cases:
        return ["No audit case names this op.", ""]
    lines = [f"{len(cases)} cases in ``cnnjax.audit.cases.ALL_CASES``:", ""]
    for c in cases:
        kwargs = ", ".join(f"{k}={v!r}" for k, v in c.kwargs.items()) or "defaults"
        quick = ", quick" if c.quick else ""
        lines.append(f"* ``{c.name}`` ({kwargs}{quick})")
    return [*lines, ""]


def _fwd_bwd(module, op: str):
    """The ``_fwd``/``_bwd`` bound by ``defvjp`` to the op's ``custom_vjp`` (public or private)."""
    for name in (op, f"_{op}"):
        bound = getattr(module, name, None)
        if getattr(bound, "bwd", None) is not None:
            return bound.fwd, bound.bwd
    return getattr(module, f"_{op}_fwd", None), getattr(module, f"_{op}_bwd", None)


def composed_of(module, op: str) -> list[str]:
    """The other ops that ``op``'s docstring names with ``:func:`` (what it is built on)."""
    import cnnjax.ops

    doc = inspect.getdoc(getattr(module, op)) or ""
    named = [ref.rsplit(".", 1)[-1] for ref in re.findall(r":func:`~?([\w.]+)`", doc)]
    return [n for n in dict.fromkeys(named) if n in cnnjax.ops.OPS and n != op]


def _op_rst(module, op: str) -> list[str]:
    path = module.__name__
    fwd, bwd = _fwd_bwd(module, op)
    lines = [_rst_title(op, "-"), f".. autofunction:: {path}.{op}", ""]
    lines += [_rst_title("Residuals", "~"), *_residuals_rst(_residual_class(module, op, bwd))]
    for title, fn in (("Forward pass", fwd), ("Backward pass (the derivation)", bwd)):
        if fn is not None:
            lines += [_rst_title(title, "~"), f".. autofunction:: {path}.{fn.__name__}", ""]
    if bwd is None:
        via = ", ".join(f"``{name}``" for name in composed_of(module, op)) or "other ops"
        lines += [_rst_title("Backward pass", "~"), f"No ``custom_vjp`` of its own: {op} is"]
        lines += [f"built on {via}, whose backward pass gives its gradient.", ""]
    return lines + [_rst_title("Audit cases", "~"), *_cases_rst(op)]


def family_page(module_name: str, ops: list[str]) -> str:
    import cnnjax.ops

    module = importlib.import_module(module_name)
    short = module_name.rsplit(".", 1)[-1]
    lines = [_rst_title(f"{short}: {', '.join(ops)}", "=")]
    lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
    for op in ops:
        lines += _op_rst(module, op)
    helpers = [
        n
        for n in getattr(module, "__all__", [])
        if n not in cnnjax.ops.OPS and n in cnnjax.ops.__all__
    ]
    if helpers:
        lines.append(_rst_title("Gradient helpers", "-"))
        lines += [f".. autofunction:: {module_name}.{n}\n" for n in helpers]
    return "\n".join(lines)


def _type_name(kind) -> str:
    if getattr(kind, "__module__", "") == "jax" and str(kind).endswith("Array'>"):
        return "jax.Array"
    text = kind if isinstance(kind, str) else inspect.formatannotation(kind)
    text = re.sub(r"cnnjax\.config\.\w+Config", "table", text)  # its keys follow as rows
    text = re.sub(r"Literal\[(.*?)\]", lambda m: m[1].replace(", ", " | "), text)
    return text.replace("typing.", "").replace("jaxlib._jax.Array", "jax.Array")


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
        return "(table)" if dataclasses.is_dataclass(value) else repr(value)
    return "required"


def field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class source: the ``#`` lines right above it, or its
    trailing ``# ...``; the text a config key's row shows as its meaning."""
    comments, above = {}, []
    for line in inspect.getsource(cls).splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("# ").rstrip())
            continue
        match = re.match(r"(\w+)\s*:[^#]*(?:#\s*(.*))?$", text)
        if match and not text.startswith(("def ", "class ", "@")):
            comments[match[1]] = " ".join([*above, match[2] or ""]).strip()
        above = []
    return comments


def config_rows(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted key, type, default, meaning)`` for every field, nested tables expanded."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    rows = []
    for field in dataclasses.fields(cls):
        if not field.repr and not field.compare:
            continue  # bookkeeping (e.g. the source file name), not a TOML key
        key, kind = f"{prefix}{field.name}", hints[field.name]
        rows.append((key, _type_name(kind), _default(field), comments.get(field.name, "")))
        nested = [a for a in (kind, *typing.get_args(kind)) if dataclasses.is_dataclass(a)]
        for sub in nested:
            rows += config_rows(sub, f"{key}.")
    return rows


def config_page() -> str:
    from cnnjax.config import ExperimentConfig

    lines = [_rst_title("Experiment configs: every key", "=")]
    lines += [".. automodule:: cnnjax.config", "   :no-members:", ""]
    lines += [".. list-table::", "   :header-rows: 1", "   :widths: 31 16 14 39", ""]
    lines += ["   * - key", "     - type", "     - default", "     - meaning"]
    for key, kind, default, meaning in config_rows(ExperimentConfig):
        lines += [f"   * - ``{key}``", f"     - ``{kind}``", f"     - ``{default}``"]
        lines.append(f"     - {meaning}")
    return "\n".join(lines) + "\n"


def audit_tables() -> str:
    from cnnjax.audit import TOLERANCES
    from cnnjax.audit.report import CHECKS

    lines = [".. list-table:: ``cnnjax.audit.tolerances.TOLERANCES``", "   :header-rows: 1", ""]
    lines += ["   * - dtype", "     - forward", "     - gradient", "     - finite differences"]
    for dtype, tol in TOLERANCES.items():
        lines += [f"   * - ``{dtype}``", f"     - {tol.fwd:g}", f"     - {tol.grad:g}"]
        lines.append(f"     - {tol.fd:g}")
    lines += ["", "The checks, in the order the report prints them (``cnnjax.audit.CHECKS``): "]
    lines.append(", ".join(f"``{c}``" for c in CHECKS) + ".")
    return "\n".join(lines) + "\n"


def _write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:  # unchanged files do not trigger rebuilds
        path.write_text(text)


def generate(out: pathlib.Path) -> None:
    families = op_families()
    index = [_rst_title("Ops by family", "="), ".. toctree::", "   :maxdepth: 2", ""]
    for module_name, ops in families.items():
        short = module_name.rsplit(".", 1)[-1]
        _write(out / "ops" / f"{short}.rst", family_page(module_name, ops))
        index.append(f"   {short}")
    index[3:3] = ["   :titlesonly:"]
    _write(out / "ops" / "index.rst", "\n".join(index) + "\n")
    _write(out / "config.rst", config_page())
    _write(out / "audit_tables.rst", audit_tables())


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", lambda app: generate(pathlib.Path(app.srcdir) / "_generated"))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
