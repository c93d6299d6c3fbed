"""Results of a gradient audit: one ``CheckResult`` per check, gathered in an ``AuditResult``.

A check compares one argument (or output) in one dtype; its errors are measured as in
``cnnjax.audit.tolerances.relative_error``: the worst absolute difference, that difference
divided by the largest reference entry, and the index of the worst element.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

CHECKS = (
    "forward",  # 1. forward output vs the reference
    "vjp",  # 2. VJP vs jax.vjp of the reference, random cotangents
    "fd_directional",  # 3. <u, J^T v> vs <J u, v> by central differences (float64)
    "fd_jacobian",  # 3. the full Jacobian by central differences (small inputs)
    "jit",  # 4. jit vs eager
    "vmap",  # 4. vmap (batched inputs and cotangents) vs a Python loop
    "grad_of_grad",  # 5. reverse-over-reverse vs the reference
    "jacfwd_of_grad",  # 5. forward-over-reverse vs the reference
    "dtype_forward",  # 6. forward in float32/bfloat16 vs the float64 reference
    "dtype_vjp",  # 6. VJP in float32/bfloat16 vs the float64 reference
    "edge_finite",  # 7. no NaN/Inf in outputs and gradients at edge inputs
    "edge_convention",  # 7. at edge inputs (kinks, ties), VJP vs the reference's convention
)


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check of one argument (or output) in one dtype.

    Attributes:
      check: the check's name, one of ``CHECKS``.
      argument: what was compared: a differentiable argument with its pytree path
        (``"w"``, ``"params['dense']['w']"``) or an output (``"output"``, ``"output[1]"``).
      dtype: the dtype the op ran in.
      abs_err: worst absolute error (``inf`` for NaN or when the check raised).
      rel_err: ``abs_err`` over the largest absolute reference entry.
      index: index of the worst element (its meaning per check is given in ``note``).
      tolerance: the relative bound ``rel_err`` is held to.
      passed: whether the check passed.
      note: context: the cotangent used, the edge input, or the exception raised.
    """

    check: str
    argument: str
    dtype: str
    abs_err: float
    rel_err: float
    index: tuple[int, ...]
    tolerance: float
    passed: bool
    note: str = ""

    @property
    def status(self) -> str:
        return "pass" if self.passed else "FAIL"

    def describe(self) -> str:
        """One line naming the check, the argument, the dtype and the worst element."""
        where = f" at index {self.index}" if self.index else ""
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.check} [{self.dtype}] for `{self.argument}`: worst rel err "
            f"{_num(self.rel_err)} vs tolerance {_num(self.tolerance)} "
            f"(abs {_num(self.abs_err)}){where}{note}"
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["index"] = list(self.index)
        for key in ("abs_err", "rel_err", "tolerance"):
            d[key] = d[key] if math.isfinite(d[key]) else str(d[key])
        return d


class GradientMismatchError(AssertionError):
    """Raised by ``check_vjp(..., raise_on_failure=True)``; ``.result`` holds every check."""

    def __init__(self, result: AuditResult):
        self.result = result
        failures = result.failures
        lines = [f"check_vjp({result.name}): {len(failures)} of {len(result.checks)} checks failed"]
        lines += [f"  {c.describe()}" for c in failures]
        super().__init__("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """Every check ``check_vjp`` ran on one function.

    Attributes:
      name: the audited function's name (or the case name).
      checks: one ``CheckResult`` per (check, argument, dtype, input).
    """

    name: str
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def failed_checks(self) -> set[str]:
        """The names of the checks with at least one failure, e.g. ``{"vjp", "fd_jacobian"}``."""
        return {c.check for c in self.failures}

    def raise_if_failed(self) -> AuditResult:
        if not self.passed:
            raise GradientMismatchError(self)
        return self

    def __str__(self) -> str:
        head = f"{self.name}: {sum(c.passed for c in self.checks)}/{len(self.checks)} checks pass"
        failures = [f"FAIL {c.describe()}" for c in self.failures]
        return "\n".join([head, format_table(self.rows(), HEADER[1:]), *failures])

    def rows(self, *, op: str | None = None) -> list[list[str]]:
        """Rows ``[case, check, arg, dtype, abs, rel, status]``, with ``op`` first if given."""
        lead = [op] if op is not None else []
        return [
            [
                *lead,
                self.name,
                c.check,
                c.argument,
                c.dtype,
                _num(c.abs_err),
                _num(c.rel_err),
                c.status,
            ]
            for c in self.checks
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
        }


HEADER = ["op", "case", "check", "arg", "dtype", "worst abs err", "worst rel err", "status"]


def _num(x: float) -> str:
    return f"{x:.2e}" if math.isfinite(x) else str(x)


def format_table(rows: Iterable[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    numeric = {i for i, h in enumerate(header) if h.startswith("worst")}

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_markdown(rows: Iterable[Sequence[str]], header: Sequence[str]) -> str:
    """The same table as GitHub-flavoured Markdown."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"
