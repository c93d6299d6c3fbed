"""The audit of the case grid: ``check_vjp`` on ``cnnjax.ops`` vs ``cnnjax.reference`` per case.

This is the library half of ``cnnjax audit`` (the command only parses and prints), so a
notebook can run ``audit_grid(select_cases(["relu"], quick=True))`` too.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from cnnjax.audit.check import check_vjp
from cnnjax.audit.edge import edge_inputs
from cnnjax.audit.report import HEADER, AuditResult, CheckResult, format_table

LOW_PRECISION = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class CaseResult:
    """One audited grid case (or model): its op name and every check."""

    op: str
    result: AuditResult

    @property
    def name(self) -> str:
        return self.result.name


QUICK_PER_OP = 2  # cases per op in `cnnjax audit --quick`


def dtypes_for(choice: str) -> tuple[str, ...]:
    """``--dtype``: which low-precision dtypes check 6 covers (float64 checks always run)."""
    return {"float64": (), "all": LOW_PRECISION}.get(choice, (choice,))


def select_cases(ops: Sequence[str] | None = None, *, quick: bool = False) -> list[Any]:
    """The grid's cases for the named ops, in grid order (with ``quick``: see below).

    Raises:
      ValueError: naming any op that has no case in the grid.
    """
    from cnnjax.audit.cases import ALL_CASES, QUICK_CASES

    known = sorted({c.op for c in ALL_CASES})
    unknown = sorted(set(ops or ()) - set(known))
    if unknown:
        raise ValueError(f"cnnjax audit: no cases for op(s) {unknown}; known ops: {known}")
    chosen = [c for c in (QUICK_CASES if quick else ALL_CASES) if not ops or c.op in ops]
    if not quick:
        return chosen
    # --quick is a smoke audit (under a minute on 2 cores): the first QUICK_PER_OP quick cases
    # of each op. The test suite runs every QUICK_CASES entry through tests/ops/test_grid.py.
    taken: dict[str, int] = {}
    subset = []
    for case in chosen:
        if taken.get(case.op, 0) < QUICK_PER_OP:
            taken[case.op] = taken.get(case.op, 0) + 1
            subset.append(case)
    return subset


@dataclasses.dataclass(frozen=True)
class GridSettings:
    """How much of ``check_vjp`` each grid case gets. This is the one place where the quick
    run (the test suite's ``tests/ops/test_grid.py`` and ``cnnjax audit --quick``) and the full
    run (``cnnjax audit``) differ; every other check and tolerance is the same in both.

    Attributes:
      full_jacobian_max: build the full finite-difference Jacobian when the case's
        differentiable inputs have at most this many elements (0: never).
      jacobian_only_fd_cases: build it only for cases marked ``Case.fd``.
      fd_directions: random directions per leaf in the directional finite-difference test,
        which runs on every case.
    """

    full_jacobian_max: int
    jacobian_only_fd_cases: bool
    fd_directions: int

    def jacobian_max(self, case) -> int:
        return 0 if self.jacobian_only_fd_cases and not case.fd else self.full_jacobian_max


FULL = GridSettings(full_jacobian_max=256, jacobian_only_fd_cases=False, fd_directions=3)
QUICK = GridSettings(full_jacobian_max=256, jacobian_only_fd_cases=True, fd_directions=3)


def audit_case(case, *, dtypes=LOW_PRECISION, quick: bool = False, seed: int = 0) -> CaseResult:
    """``check_vjp`` of ``case.bind(cnnjax.ops)`` against ``case.bind(cnnjax.reference)``,
    with the ``QUICK`` or the ``FULL`` settings; what ``cnnjax audit`` and the test suite run
    for one case."""
    from cnnjax import ops, reference

    settings = QUICK if quick else FULL
    result = check_vjp(
        case.bind(ops),
        case.bind(reference),
        *case.args(seed),
        argnums=case.argnums,
        tol=dict(case.tol),
        dtypes=dtypes,
        second_order=case.second_order,
        fd_directions=settings.fd_directions,
        full_jacobian_max=settings.jacobian_max(case),
        edge_inputs=edge_inputs(case, seed),
        seed=seed,
        name=case.name,
    )
    return CaseResult(case.op, result)


def audit_grid(
    cases: Iterable[Any],
    *,
    dtypes: Sequence[str] = LOW_PRECISION,
    quick: bool = False,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
    jobs: int = 1,
) -> list[CaseResult]:
    """Audit each case, in ``jobs`` worker processes when there are enough cases to pay for
    their start-up (compilation dominates, so the cases parallelise well); results come back
    in grid order. ``progress(done, total, name)`` is called as cases start or finish."""
    cases = list(cases)
    progress = progress or (lambda done, total, name: None)
    work = (tuple(dtypes), quick, seed)
    if jobs <= 1 or len(cases) < MIN_CASES_PER_JOB * 2:
        results = []
        for k, case in enumerate(cases):
            progress(k, len(cases), case.name)
            results.append(audit_case(case, dtypes=work[0], quick=quick, seed=seed))
    else:
        results = [None] * len(cases)
        context = multiprocessing.get_context("spawn")  # never fork a process running JAX
        workers = min(jobs, len(cases) // MIN_CASES_PER_JOB)
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_audit_by_name, c.name, *work): k for k, c in enumerate(cases)}
            for done, future in enumerate(concurrent.futures.as_completed(futures)):
                k = futures[future]
                results[k] = future.result()
                progress(done + 1, len(cases), cases[k].name)
    progress(len(cases), len(cases), "done")
    return results


MIN_CASES_PER_JOB = 4


def _audit_by_name(name: str, dtypes, quick: bool, seed: int) -> CaseResult:
    """Worker entry point: grid cases hold lambdas, so they travel by name."""
    from cnnjax.audit.cases import CASES_BY_NAME

    return audit_case(CASES_BY_NAME[name], dtypes=dtypes, quick=quick, seed=seed)


class ProgressBar:
    """``[#####.....] 12/50 case-name`` redrawn in place on ``stream``; silent when disabled."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool | None = None, width: int = 30):
        self.stream, self.width = stream, width
        self.enabled = stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.enabled:
            return
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.start
        line = f"\r[{bar}] {done}/{total} {elapsed:5.0f}s {name}"[:120]
        self.stream.write(line.ljust(121) + ("\n" if done == total else ""))
        self.stream.flush()


def all_checks(results: Iterable[CaseResult]) -> list[CheckResult]:
    return [c for r in results for c in r.result.checks]


def summary_rows(results: Iterable[CaseResult], *, verbose: bool = False) -> list[list[str]]:
    """Table rows: every check with ``verbose``, else per (case, check, dtype) the worst one."""
    rows = []
    for r in results:
        if verbose:
            rows += r.result.rows(op=r.op)
            continue
        groups: dict[tuple[str, str], list[CheckResult]] = {}
        for c in r.result.checks:
            groups.setdefault((c.check, c.dtype), []).append(c)
        for members in groups.values():
            worst = max(members, key=lambda c: (not c.passed, c.rel_err))
            rows.append(AuditResult(r.name, (worst,)).rows(op=r.op)[0])
    return rows


def failure_report(results: Iterable[CaseResult]) -> str:
    """The failing rows of ``summary_rows`` (the rows ``cnnjax audit`` prints with ``FAIL``) as
    a table, then one line per failed check naming its worst element; ``""`` when all pass."""
    results = list(results)
    rows = [r for r in summary_rows(results) if r[-1] == "FAIL"]
    if not rows:
        return ""
    details = [f"FAIL {r.name}: {c.describe()}" for r in results for c in r.result.failures]
    return "\n".join([format_table(rows, HEADER), *details])


def to_json(results: Iterable[CaseResult], **summary: Any) -> dict[str, Any]:
    results = list(results)
    checks = all_checks(results)
    return {
        "summary": {
            "passed": sum(c.passed for c in checks),
            "total": len(checks),
            "all_passed": all(c.passed for c in checks),
            **summary,
        },
        "cases": [{"op": r.op, **r.result.to_dict()} for r in results],
    }
