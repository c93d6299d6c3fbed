"""``check_vjp``: audit any function with a custom VJP against autodiff of a reference.

The checks, in order (their names appear in every ``CheckResult``):

1. ``forward``: the output against the reference, float64.
2. ``vjp``: the VJP against ``jax.vjp`` of the reference for a random cotangent on every
   output at once and, for several outputs, on each output alone; float64.
3. ``fd_directional`` / ``fd_jacobian``: against central finite differences, float64
   (see ``cnnjax.audit.finite_diff``).
4. ``jit`` (jit vs eager) and ``vmap`` (a batch of inputs and cotangents vs a Python loop).
5. ``grad_of_grad`` / ``jacfwd_of_grad``: reverse-over-reverse (the gradient of
   ``<VJP(ct)(x), probe>``) and forward-over-reverse (the JVP of ``x -> VJP(ct)(x)`` along a
   random tangent) against the reference's, when ``second_order``.
6. ``dtype_forward`` / ``dtype_vjp``: each of ``dtypes`` against the float64 reference at the
   same (rounded) inputs and cotangent, bounded by that dtype's row of ``TOLERANCES``.
7. ``edge_finite`` / ``edge_convention``: at each edge input, no NaN/Inf in the output or the
   gradients (float64 and each of ``dtypes``), and output and VJP equal to the reference's in
   float64, which pins the documented convention at kinks and ties (gradient errors there are
   relative to the largest gradient entry of any argument). An edge input with
   ``finite_output=False`` (a NaN or -inf by the convention) needs finite gradients only, and
   its NaN/infinite entries count as equal where the reference has the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.audit import finite_diff
from cnnjax.audit._problem import (
    Problem,
    Recorder,
    cast,
    cast_like,
    float_leaves,
    is_float,
    output_labels,
    random_like,
)
from cnnjax.audit._runners import F64, Runners, Settings, eager, tolerances
from cnnjax.audit.edge import EdgeInput, as_edge_inputs, same_nonfinite
from cnnjax.audit.report import AuditResult, CheckResult, GradientMismatchError
from cnnjax.audit.tolerances import Tolerance

__all__ = ["check_vjp"]

VMAP_SCALES = (1.0, 1.001, 0.999)  # batch members: the input, slightly scaled


def check_vjp(
    fn: Callable,
    reference: Callable,
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    rtol: float | None = None,
    atol: float = 0.0,
    tol: Mapping[str, Tolerance] | None = None,
    dtypes: Sequence[str] = ("float32", "bfloat16"),
    second_order: bool = True,
    fd_directions: int = 3,
    full_jacobian_max: int = 256,
    fd_eps: float = 1e-4,
    transforms: bool = True,
    edge_inputs: Sequence[EdgeInput | tuple] = (),
    seed: int = 0,
    name: str | None = None,
    raise_on_failure: bool = False,
) -> AuditResult:
    """Audit ``fn`` (with a custom VJP) against ``reference`` differentiated by JAX.

    Runs checks 1-7 of this module's docstring and returns every result; float64 checks run
    inside ``jax.enable_x64(True)``, so the caller need not enable x64 (its setting is
    restored afterwards).

    Args:
      fn: the function under audit; any callable of positional arguments returning a pytree
        of arrays.
      reference: a function with the same signature, differentiated by JAX autodiff.
      *args: positional arguments for both. The differentiable ones (``argnums``) are pytrees
        of floating arrays in any float dtype (they are cast to float64 and to each of
        ``dtypes``); the others (int labels, PRNG keys, ...) pass through unchanged.
      argnums: positions of the differentiable arguments; default: every argument whose
        leaves are all floating arrays.
      rtol: replaces the float64 ``fwd`` and ``grad`` bounds of ``TOLERANCES``.
      atol: a check also passes when its worst absolute error is at most ``atol`` (default 0).
      tol: per-dtype overrides of ``TOLERANCES``, e.g. ``{"float32": Tolerance(...)}``.
      dtypes: low-precision dtypes for check 6 (and the finite check of 7); ``()`` skips them.
      second_order: run check 5 (only meaningful where ``fn`` is twice differentiable).
      fd_directions: random directions per leaf in the directional finite-difference test.
      full_jacobian_max: build the full finite-difference Jacobian when the differentiable
        inputs have at most this many elements in total (0 turns it off).
      fd_eps: absolute central-difference step ``h`` (fourth-order stencil, see
        ``cnnjax.audit.finite_diff``).
      transforms: run check 4 (jit, vmap).
      edge_inputs: ``EdgeInput(label, args)`` (or bare argument tuples) for check 7: full
        positional arguments that sit on kinks, ties or extreme values;
        ``EdgeInput(label, args, finite_output=False)`` for one whose output is NaN/-inf.
      seed: seeds the random cotangents, directions and probes.
      name: the name in the report (default: ``fn.__name__``).
      raise_on_failure: raise ``GradientMismatchError`` when any check fails.

    Returns:
      An ``AuditResult``; ``.passed`` tells whether all checks passed.

    Raises:
      GradientMismatchError: with ``raise_on_failure``, naming each failed check, argument
        and worst element.
      TypeError, ValueError: for ``argnums`` or arguments that cannot be audited.

    >>> import jax, jax.numpy as jnp
    >>> @jax.custom_vjp
    ... def square(x):
    ...     return x * x
    >>> square.defvjp(lambda x: (x * x, x), lambda x, ct: (2 * x * ct,))
    >>> result = check_vjp(square, lambda x: x**2, jnp.linspace(-1.0, 1.0, 5))
    >>> result.passed, sorted(result.failed_checks())
    (True, [])
    """
    label = name or getattr(fn, "__name__", None) or repr(fn)
    tols = tolerances(tol, rtol, dtypes)
    with jax.enable_x64(True):
        prob = Problem(fn, reference, args, argnums)
        rec = Recorder(atol)
        settings = Settings(
            tols,
            tuple(dtypes),
            second_order,
            fd_directions,
            full_jacobian_max,
            fd_eps,
            transforms,
            seed,
        )
        _run_checks(prob, rec, settings, as_edge_inputs(edge_inputs))
    result = AuditResult(label, tuple(rec.rows))
    if raise_on_failure and not result.passed:
        raise GradientMismatchError(result)
    return result


def _run_checks(prob: Problem, rec: Recorder, s: Settings, edges: list[EdgeInput]) -> None:
    rng = np.random.default_rng(s.seed)
    t64 = s.tols[F64]
    f, r = prob.restrict(prob.fn), prob.restrict(prob.reference)
    diff, labels, runners = prob.diff(jnp.float64), prob.input_labels(), Runners(prob)
    ran = False
    with rec.guard("forward", F64, t64.fwd):
        y, vjp_fn = jax.vjp(f, *diff)
        y_ref, vjp_ref = jax.vjp(r, *diff)
        ran = True
        rec.compare("forward", F64, output_labels(y_ref), y, y_ref, t64.fwd)
    if not ran:
        return  # fn or reference raised: every later check would raise the same way
    ct, grads = random_like(rng, y_ref), None
    with rec.guard("vjp", F64, t64.grad):
        grads = vjp_fn(ct)
        _vjp_checks(rec, labels, vjp_fn, vjp_ref, y_ref, ct, t64.grad)
    if grads is not None:
        _fd_checks(rec, prob, labels, runners, ct, grads, s, rng)
    if s.transforms:
        _transform_checks(rec, prob, labels, runners, diff, y_ref, t64.grad, rng)
    if s.second_order:
        _second_order_checks(rec, labels, f, r, diff, ct, t64.grad, rng)
    for dtype in s.dtypes:
        with rec.guard("dtype_vjp", dtype, s.tols[dtype].grad):
            _dtype_checks(rec, prob, labels, runners, ct, dtype, s.tols[dtype])
    for edge in edges:
        _edge_checks(rec, prob, labels, runners, edge, s, rng)


def _vjp_checks(rec, labels, vjp_fn, vjp_ref, y_ref, ct, tol) -> None:
    """Random cotangent on every output, then (several outputs) on each output alone."""
    rec.compare("vjp", F64, labels, vjp_fn(ct), vjp_ref(ct), tol, "cotangent on every output")
    leaves, treedef = jax.tree.flatten(ct)
    floats = [k for k, a in enumerate(leaves) if is_float(a)]
    if len(floats) < 2:
        return
    out_labels = output_labels(y_ref)
    for k in floats:
        only = [a if j == k or not is_float(a) else jnp.zeros_like(a) for j, a in enumerate(leaves)]
        ct_k = jax.tree.unflatten(treedef, only)
        rec.compare(
            "vjp",
            F64,
            labels,
            vjp_fn(ct_k),
            vjp_ref(ct_k),
            tol,
            f"cotangent on {out_labels[k]} only",
        )


def _fd_checks(rec, prob, labels, runners, ct, grads, s: Settings, rng) -> None:
    tol = s.tols[F64].fd
    diff = prob.diff(jnp.float64)
    with rec.guard("fd_directional", F64, tol):
        ev = finite_diff.Evaluator(prob.restrict(prob.fn), diff)
        finite_diff.directional(
            rec, labels, ev, ct, grads, tol=tol, rng=rng, eps=s.fd_eps, directions=s.fd_directions
        )
    out = float_leaves(ct)
    sizes = [int(np.size(a)) for a in out]

    def vjp_row(o):
        basis = np.split(np.eye(1, sum(sizes), o)[0], np.cumsum(sizes)[:-1])
        cts = [
            jnp.asarray(b.reshape(np.shape(a)), a.dtype) for b, a in zip(basis, out, strict=True)
        ]
        g = runners("fn", prob.args, diff, cts)[1]
        return np.concatenate([np.ravel(np.asarray(a, np.float64)) for a in jax.tree.leaves(g)])

    with rec.guard("fd_jacobian", F64, tol):
        finite_diff.jacobian(
            rec,
            labels,
            ev,
            vjp_row,
            sum(sizes),
            tol=tol,
            eps=s.fd_eps,
            max_inputs=s.full_jacobian_max,
        )


def _transform_checks(rec, prob, labels, runners, diff, y_ref, tol, rng) -> None:
    run = prob.value_and_vjp(prob.fn, y_ref)
    arrays = prob.pass_arrays()
    all_labels = output_labels(y_ref) + labels
    ct = float_leaves(random_like(rng, y_ref))
    with rec.guard("jit", F64, tol):
        got = runners("fn", prob.args, diff, ct)
        rec.compare("jit", F64, all_labels, got, run(diff, ct, arrays), tol)
    with rec.guard("vmap", F64, tol):
        batch = [
            (
                cast(jax.tree.map(lambda a, s=s: np.asarray(a) * s, diff), jnp.float64),
                float_leaves(random_like(rng, y_ref)),
            )
            for s in VMAP_SCALES
        ]
        stacked = jax.tree.map(lambda *xs: np.stack(xs), *batch)
        looped = jax.tree.map(lambda *xs: np.stack(xs), *[run(*b, arrays) for b in batch])
        batched = jax.jit(jax.vmap(run, in_axes=(0, 0, None)))(*stacked, arrays)
        rec.compare(
            "vmap",
            F64,
            all_labels,
            batched,
            looped,
            tol,
            f"batch of {len(batch)}: inputs scaled by {VMAP_SCALES}",
        )


def _second_order_checks(rec, labels, f, r, diff, ct, tol, rng) -> None:
    """Reverse-over-reverse: the gradient of ``<VJP(ct)(x), probe>``; forward-over-reverse:
    the JVP of ``x -> VJP(ct)(x)`` along a random tangent (one column-combination of
    ``jacfwd`` of the VJP, at the cost of one forward-mode pass whatever the input size)."""
    probe, tangent = random_like(rng, diff), random_like(rng, diff)

    def vjp_of(g):
        return lambda *d: jax.vjp(g, *d)[1](ct)

    def scalar(g):
        def h(*d):
            pairs = zip(jax.tree.leaves(vjp_of(g)(*d)), jax.tree.leaves(probe), strict=True)
            return sum(jnp.vdot(a, p) for a, p in pairs)

        return h

    argnums = tuple(range(len(diff)))
    with rec.guard("grad_of_grad", F64, tol):
        want = jax.jit(jax.grad(scalar(r), argnums))(*diff)
        got = jax.jit(jax.grad(scalar(f), argnums))(*diff)
        rec.compare("grad_of_grad", F64, labels, got, want, tol, "d/dx <VJP(ct)(x), probe>")
    with rec.guard("jacfwd_of_grad", F64, tol):

        def forward_over_reverse(g):
            return jax.jit(lambda d, t: jax.jvp(vjp_of(g), d, t)[1])

        want = forward_over_reverse(r)(diff, tangent)
        got = forward_over_reverse(f)(diff, tangent)
        note = "jvp of x -> VJP(ct)(x) along a random tangent"
        rec.compare("jacfwd_of_grad", F64, labels, got, want, tol, note)


def _dtype_checks(rec, prob: Problem, labels, runners, ct64, dtype: str, tol: Tolerance) -> None:
    """``fn`` in ``dtype`` against the float64 reference at the same rounded inputs."""
    diff_d = prob.diff(jnp.dtype(dtype))
    diff_r = cast(diff_d, jnp.float64)
    y_like = jax.eval_shape(prob.restrict(prob.fn), *diff_d)
    expected = jax.eval_shape(prob.restrict(prob.reference), *diff_d)
    out_labels = output_labels(expected)
    for lbl, a, e in zip(
        out_labels, jax.tree.leaves(y_like), jax.tree.leaves(expected), strict=True
    ):
        if a.dtype != e.dtype:
            rec.fail(
                "dtype_forward",
                dtype,
                lbl,
                tol.fwd,
                f"output dtype {a.dtype}, the reference gives {e.dtype}",
            )
    ct_d = float_leaves(cast_like(ct64, y_like))
    y_d, grads = runners("fn", prob.args, diff_d, ct_d)
    y_r, want = eager(prob, prob.reference, prob.args, diff_r, cast(ct_d, jnp.float64))
    rec.compare("dtype_forward", dtype, out_labels, y_d, y_r, tol.fwd)
    for lbl, g, x in zip(labels, jax.tree.leaves(grads), jax.tree.leaves(diff_d), strict=True):
        if g.dtype != x.dtype:
            rec.fail(
                "dtype_vjp",
                dtype,
                lbl,
                tol.grad,
                f"gradient dtype {g.dtype}, the input is {x.dtype}",
            )
    rec.compare("dtype_vjp", dtype, labels, grads, want, tol.grad)


def _edge_checks(rec, prob: Problem, labels, runners, edge: EdgeInput, s: Settings, rng) -> None:
    for dtype in (F64, *s.dtypes):
        with rec.guard("edge_finite", dtype, 0.0):
            diff = prob.diff(jnp.dtype(dtype), edge.args)
            y_like = jax.eval_shape(prob.restrict(prob.fn, edge.args), *diff)
            ct = float_leaves(random_like(rng, y_like))
            y, grads = runners("fn", edge.args, diff, ct)
            if edge.finite_output:
                _record_finite(rec, dtype, output_labels(y) + labels, [y, grads], edge.label)
            else:
                _record_finite(rec, dtype, labels, grads, f"{edge.label}, gradients")
            if dtype == F64:
                y_ref, want = eager(prob, prob.reference, edge.args, diff, ct)
                out_labels = output_labels(y_ref)
                (y, y_ref), (grads, want) = same_nonfinite(y, y_ref), same_nonfinite(grads, want)
                tol = s.tols[F64]
                note = f"{edge.label}: the documented convention"
                rec.compare("edge_convention", F64, out_labels, y, y_ref, tol.fwd, note)
                # Relative to the largest entry of any argument's gradient: an edge input can
                # zero one gradient exactly (batch norm's `scale` at a zero-variance channel
                # with C = 1), and its rounding noise has no scale of its own.
                scale = max(float(np.max(np.abs(a), initial=0.0)) for a in jax.tree.leaves(want))
                note_g = f"{note}, relative to the largest gradient entry of any argument"
                rec.compare("edge_convention", F64, labels, grads, want, tol.grad, note_g, scale)


def _record_finite(rec: Recorder, dtype: str, labels, tree, note: str) -> None:
    """Row ``edge_finite`` per leaf: error 0 when all finite, else ``inf`` at the first bad one."""
    for lbl, a in zip(labels, jax.tree.leaves(tree), strict=True):
        a = np.asarray(a, dtype=np.float64)
        bad = ~np.isfinite(a)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            msg = f"{note}: {int(bad.sum())} of {a.size} entries NaN/Inf"
            rec.rows.append(_row("edge_finite", lbl, dtype, float("inf"), index, False, msg))
        else:
            rec.rows.append(_row("edge_finite", lbl, dtype, 0.0, (), True, note))


def _row(check, label, dtype, err, index, passed, note):
    return CheckResult(check, label, dtype, err, err, index, 0.0, passed, note)
