"""The case grid, op by op: forward, VJP, jit, vmap, second order and finite differences.

Every check compares ``cnnjax.ops`` against ``jax.vjp`` of ``cnnjax.reference`` (autodiff of an
independent implementation). The suite runs ``QUICK_CASES``; ``cnnjax audit`` runs them all.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnjax import ops, reference
from cnnjax.audit.cases import ALL_CASES, QUICK_CASES
from cnnjax.audit.tolerances import relative_error, tolerance_for

IDS = [c.name for c in QUICK_CASES]


def _prepare(case, dtype=jnp.float64, seed=0):
    """The case's args with differentiable ones cast to ``dtype``, and a fn of those alone."""
    args = list(case.args(seed))
    for i in case.argnums:
        args[i] = jnp.asarray(args[i], dtype)

    def restrict(module):
        f = case.bind(module)

        def g(*diff):
            full = list(args)
            for i, d in zip(case.argnums, diff, strict=True):
                full[i] = d
            return f(*full)

        return g

    return restrict, tuple(args[i] for i in case.argnums)


def _like(rng, tree):
    return jax.tree.map(lambda y: jnp.asarray(rng.standard_normal(y.shape), y.dtype), tree)


def _assert_close(check, got, want, tol):
    for k, (g, w) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)):
        assert jnp.shape(g) == jnp.shape(w), f"{check}[{k}]: shape {jnp.shape(g)} != {jnp.shape(w)}"
        abs_err, rel_err, idx = relative_error(g, w)
        assert rel_err <= tol, (
            f"{check}[{k}]: relative error {rel_err:.3e} > {tol:.1e} "
            f"(abs {abs_err:.3e} at index {idx})"
        )


def _tol(case, dtype):
    return case.tol.get(jnp.dtype(dtype).name, tolerance_for(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("case", QUICK_CASES, ids=IDS)
def test_forward_and_vjp_match_reference(case, dtype):
    restrict, diff = _prepare(case, jnp.dtype(dtype))
    _, diff64 = _prepare(case, jnp.float64)
    y, vjp = jax.vjp(restrict(ops), *diff)
    y_ref, vjp_ref = jax.vjp(restrict(reference), *diff64)
    assert jax.tree.map(lambda a: a.dtype, y) == jax.tree.map(
        lambda a: a.dtype, jax.vjp(restrict(reference), *diff)[0]
    ), "forward: output dtypes differ from the reference's"
    ct = _like(np.random.default_rng(1), y)
    ct64 = jax.tree.map(lambda c: c.astype(jnp.float64), ct)
    tol = _tol(case, dtype)
    _assert_close("forward", y, y_ref, tol.fwd)
    _assert_close("vjp", vjp(ct), vjp_ref(ct64), tol.grad)


@pytest.mark.parametrize("case", QUICK_CASES, ids=IDS)
def test_jit_and_vmap_match_eager(case):
    restrict, diff = _prepare(case)
    f = restrict(ops)
    y, vjp = jax.vjp(f, *diff)
    ct = _like(np.random.default_rng(2), y)

    def value_and_grad(d, c):
        y, vjp = jax.vjp(f, *d)
        return y, vjp(c)

    tol = tolerance_for(jnp.float64).grad
    _assert_close("jit", jax.jit(value_and_grad)(diff, ct), (y, vjp(ct)), tol)
    # vmap: a batch of three independent (inputs, cotangent) pairs vs a Python loop.
    batch = [
        (tuple(d * (1 + 0.1 * k) for d in diff), jax.tree.map(lambda c, k=k: c * (k - 1.5), ct))
        for k in range(3)
    ]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *batch)
    looped = jax.tree.map(lambda *xs: jnp.stack(xs), *[value_and_grad(*b) for b in batch])
    _assert_close("vmap", jax.vmap(value_and_grad)(*stacked), looped, tol)


@pytest.mark.parametrize(
    "case",
    [c for c in QUICK_CASES if c.second_order],
    ids=[c.name for c in QUICK_CASES if c.second_order],
)
def test_second_order_matches_reference(case):
    restrict, diff = _prepare(case)
    y = restrict(ops)(*diff)
    rng = np.random.default_rng(3)
    ct, probe = _like(rng, y), _like(rng, diff)

    def scalar(module):
        f = restrict(module)

        def h(*d):
            grads = jax.vjp(f, *d)[1](ct)
            return sum(jnp.vdot(g, p) for g, p in zip(grads, probe, strict=True))

        return h

    argnums = tuple(range(len(diff)))
    tol = _tol(case, jnp.float64).grad
    # Jitted: one compilation per check instead of op-by-op dispatch of the second-order graph.
    want = jax.jit(jax.grad(scalar(reference), argnums))(*diff)
    _assert_close("grad(grad)", jax.jit(jax.grad(scalar(ops), argnums))(*diff), want, tol)
    _assert_close("jacfwd(grad)", jax.jit(jax.jacfwd(scalar(ops), argnums))(*diff), want, tol)


@pytest.mark.parametrize(
    "case", [c for c in QUICK_CASES if c.fd], ids=[c.name for c in QUICK_CASES if c.fd]
)
def test_vjp_matches_central_finite_differences(case):
    """<u, J^T v> against <(f(x + eps u) - f(x - eps u)) / 2 eps, v>, in float64."""
    restrict, diff = _prepare(case)
    f = restrict(ops)
    y, vjp = jax.vjp(f, *diff)
    rng = np.random.default_rng(4)
    v, u = _like(rng, y), _like(rng, diff)
    eps = 1e-6
    plus = f(*(d + eps * e for d, e in zip(diff, u, strict=True)))
    minus = f(*(d - eps * e for d, e in zip(diff, u, strict=True)))
    jvp_fd = jax.tree.map(lambda p, m: (p - m) / (2 * eps), plus, minus)
    lhs = sum(jnp.vdot(g, e) for g, e in zip(vjp(v), u, strict=True))
    rhs = sum(
        jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(jvp_fd), jax.tree.leaves(v), strict=True)
    )
    scale = max(abs(float(lhs)), abs(float(rhs)), 1e-12)
    assert abs(float(lhs - rhs)) / scale <= tolerance_for(jnp.float64).fd, (
        f"finite differences: <u, J^T v> = {float(lhs)!r} vs FD {float(rhs)!r}"
    )


@pytest.mark.parametrize("case", QUICK_CASES, ids=IDS)
def test_op_is_a_custom_vjp(case):
    restrict, diff = _prepare(case)
    jaxpr = str(jax.make_jaxpr(restrict(ops))(*diff))
    assert "custom_vjp_call" in jaxpr, f"{case.op}: no custom_vjp in its jaxpr"
    assert "custom_vjp_call" not in str(jax.make_jaxpr(restrict(reference))(*diff))


def test_every_op_with_a_defvjp_has_a_case():
    """Each ``NAME.defvjp(`` in cnnjax/ops needs a case for op ``NAME.lstrip('_')``."""
    ops_dir = pathlib.Path(ops.__file__).parent
    defined = {
        m.group(1).lstrip("_")
        for path in ops_dir.glob("*.py")
        for m in re.finditer(r"(\w+)\.defvjp\(", path.read_text())
    }
    covered = {c.op for c in ALL_CASES}
    assert defined, "found no defvjp in cnnjax/ops"
    assert not defined - covered, f"ops with a defvjp but no case: {sorted(defined - covered)}"
    assert set(ops.OPS) <= covered, f"public ops with no case: {sorted(set(ops.OPS) - covered)}"


def test_no_autodiff_inside_ops():
    ops_dir = pathlib.Path(ops.__file__).parent
    banned = re.compile(
        r"jax\.(grad|vjp|jvp|linear_transpose|jacrev|jacfwd|hessian|value_and_grad)\b"
    )
    hits = [
        f"{p.name}:{i}"
        for p in ops_dir.glob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if banned.search(line)
    ]
    assert not hits, f"autodiff used inside cnnjax/ops: {hits}"
