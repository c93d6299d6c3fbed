"""The yardstick stays independent: ``cnnjax/reference/`` imports nothing from ``cnnjax/ops/``.

A helper shared by both would put one bug in the op, in its reference and so in every check
at once. The imports are read from the syntax tree, so a lazy import inside a function counts.
"""

from __future__ import annotations

import ast
import pathlib

import cnnjax.reference

REFERENCE_DIR = pathlib.Path(cnnjax.reference.__file__).parent


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, relative imports resolved against its package."""
    package = ["cnnjax", "reference"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _ops_imports(path: pathlib.Path) -> list[str]:
    return [
        f"{path.name}:{line} imports {name}"
        for line, name in _imports(path)
        if name == "cnnjax.ops" or name.startswith("cnnjax.ops.") or name == "cnnjax"
    ]


def test_reference_imports_nothing_from_ops():
    files = sorted(REFERENCE_DIR.glob("*.py"))
    assert len(files) >= 8, f"expected the reference modules in {REFERENCE_DIR}, got {files}"
    hits = [hit for path in files for hit in _ops_imports(path)]
    assert not hits, f"cnnjax/reference must not import cnnjax.ops: {hits}"


def test_the_check_sees_absolute_relative_and_lazy_imports(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from cnnjax.ops._util import pair\n"
        "def f():\n"
        "    import cnnjax.ops.pool\n"
        "from .. import ops\n"
        "import cnnjax\n"
    )
    hits = _ops_imports(planted)
    assert sorted({int(h.split(" imports ")[0].split(":")[1]) for h in hits}) == [1, 3, 4, 5], hits


OPS_DIR = REFERENCE_DIR.parent / "ops"
_AUTODIFF = {
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linear_transpose",
    "value_and_grad",
    "vjp",
}


def _autodiff_uses(path: pathlib.Path) -> list[str]:
    """``jax.<autodiff>`` attribute uses and ``from jax import <autodiff>`` imports in ``path``."""
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in _AUTODIFF:
            if isinstance(node.value, ast.Name) and node.value.id == "jax":
                hits.append(f"{path.name}:{node.lineno} uses jax.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax"):
            hits += [
                f"{path.name}:{node.lineno} imports {alias.name} from {node.module}"
                for alias in node.names
                if alias.name in _AUTODIFF
            ]
    return hits


def test_ops_use_no_autodiff():
    files = sorted(OPS_DIR.glob("*.py"))
    assert len(files) >= 8, f"expected the op modules in {OPS_DIR}, got {files}"
    hits = [hit for path in files for hit in _autodiff_uses(path)]
    assert not hits, f"cnnjax/ops must derive every VJP by hand: {hits}"


def test_the_autodiff_check_sees_attributes_and_imports(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import jax\n"
        "def f(x):\n"
        "    return jax.grad(g)(x) + jax.linear_transpose(g, x)(x) + jax.hessian(g)(x)\n"
        "from jax import jacrev\n"
        "y = jax.jit(f)\n"
    )
    hits = _autodiff_uses(planted)
    assert sorted(h.split(" ", 1)[0] for h in hits) == [
        "planted.py:3",
        "planted.py:3",
        "planted.py:3",
        "planted.py:4",
    ], hits
