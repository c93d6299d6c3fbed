"""What ``check_vjp`` audits: the function pair, its arguments, and how results are recorded.

``Problem`` splits the positional arguments into differentiable ones (``argnums``, pytrees of
floating arrays) and pass-through ones, casts the former to a dtype, restricts a function to
them, and names every leaf for the report. ``Recorder`` turns comparisons into rows.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cnnjax.audit.report import CheckResult
from cnnjax.audit.tolerances import relative_error


def is_float(leaf: Any) -> bool:
    """Whether a leaf is an array (or array-like) of a floating dtype."""
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.floating)


def float_leaves(tree: Any) -> list[Any]:
    return [leaf for leaf in jax.tree.leaves(tree) if is_float(leaf)]


def _host_cast(a: Any, dtype: Any) -> jax.Array:
    """Cast on the host (NumPy handles bfloat16 too), then one transfer: no compiled convert."""
    return jnp.asarray(np.asarray(a).astype(dtype))


def cast(tree: Any, dtype: Any) -> Any:
    """Cast every floating leaf of ``tree`` to ``dtype`` (as a jax array); keep the others."""
    return jax.tree.map(lambda a: _host_cast(a, dtype) if is_float(a) else a, tree)


def cast_like(tree: Any, like: Any) -> Any:
    """Cast each floating leaf of ``tree`` to the dtype of the matching leaf of ``like``."""
    return jax.tree.map(lambda a, b: _host_cast(a, b.dtype) if is_float(b) else a, tree, like)


def random_like(rng: np.random.Generator, tree: Any) -> Any:
    """Standard-normal leaves like ``tree``'s floating ones; ``float0`` zeros for the others
    (the cotangent JAX expects for integer outputs)."""

    def leaf(a):
        if is_float(a):
            return _host_cast(rng.standard_normal(np.shape(a)), a.dtype)
        return np.zeros(np.shape(a), jax.dtypes.float0)

    return jax.tree.map(leaf, tree)


def is_array(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, jax.Array))


def path_label(prefix: str, path: Sequence[Any]) -> str:
    return prefix + jax.tree_util.keystr(tuple(path))


def output_labels(y: Any) -> list[str]:
    """``"output"`` for a single array, ``"output[1]"``, ``"output['loss']"`` for pytrees."""
    return [path_label("output", p) for p, _ in jax.tree_util.tree_flatten_with_path(y)[0]]


class Problem:
    """The audited pair and its arguments.

    Args:
      fn, reference: functions of the same positional arguments.
      args: all positional arguments.
      argnums: positions of the differentiable ones (each a pytree of floating arrays).
    """

    def __init__(self, fn: Callable, reference: Callable, args: Sequence[Any], argnums):
        self.fn, self.reference, self.args = fn, reference, tuple(args)
        self.argnums = default_argnums(self.args) if argnums is None else normalise(argnums, args)
        names = arg_names(fn, len(self.args))
        self.names = [names[i] for i in self.argnums]
        for i, name in zip(self.argnums, self.names, strict=True):
            leaves = jax.tree.leaves(self.args[i])
            bad = [jnp.result_type(a) for a in leaves if not is_float(a)]
            if not leaves or bad:
                raise TypeError(
                    f"check_vjp: differentiable argument `{name}` (position {i}) must be a pytree "
                    f"of floating arrays, got leaf dtypes {bad or 'none'}; leave it out of "
                    "`argnums` to pass it through undifferentiated"
                )

    def diff(self, dtype: Any, args: Sequence[Any] | None = None) -> tuple[Any, ...]:
        """The differentiable arguments of ``args`` (default: the audited ones) in ``dtype``."""
        args = self.args if args is None else args
        return tuple(cast(args[i], dtype) for i in self.argnums)

    def restrict(self, f: Callable, args: Sequence[Any] | None = None) -> Callable:
        """``f`` as a function of the differentiable arguments alone, the others fixed."""
        template = list(self.args if args is None else args)

        def restricted(*diff):
            return f(*_with(template, self.argnums, diff))

        return restricted

    def static_key(self, args: Sequence[Any]) -> tuple[Any, ...]:
        """The pass-through arguments with their arrays blanked: what a compiled runner fixes."""
        return tuple(
            None
            if i in self.argnums
            else jax.tree.map(
                lambda a: ("array", np.shape(a), str(a.dtype)) if is_array(a) else a, args[i]
            )
            for i in range(len(args))
        )

    def value_and_vjp(self, f: Callable, y_like: Any, args: Sequence[Any] | None = None):
        """``(diff, float_cts, arrays) -> (y, grads)`` for ``f`` in the positional form.

        ``arrays`` are the array leaves of the pass-through arguments (so one ``jax.jit`` of it
        serves every input with the same static rest); integer outputs get ``float0``
        cotangents; ``pass_arrays(args)`` gives the ``arrays``.
        """
        template = list(self.args if args is None else args)
        out_leaves, out_def = jax.tree.flatten(y_like)
        rest = [
            (i, *jax.tree.flatten(template[i]))
            for i in range(len(template))
            if i not in self.argnums
        ]

        def run(diff, float_cts, arrays):
            full, it = list(template), iter(arrays)
            for i, leaves, treedef in rest:
                full[i] = jax.tree.unflatten(
                    treedef, [next(it) if is_array(a) else a for a in leaves]
                )
            cts = iter(float_cts)
            parts = [
                next(cts) if is_float(a) else np.zeros(np.shape(a), jax.dtypes.float0)
                for a in out_leaves
            ]
            y, vjp_fn = jax.vjp(lambda *d: f(*_with(full, self.argnums, d)), *diff)
            return y, vjp_fn(jax.tree.unflatten(out_def, parts))

        return run

    def pass_arrays(self, args: Sequence[Any] | None = None) -> list[Any]:
        """The array leaves of the pass-through arguments, in ``value_and_vjp``'s order."""
        args = self.args if args is None else args
        return [
            a
            for i in range(len(args))
            if i not in self.argnums
            for a in jax.tree.leaves(args[i])
            if is_array(a)
        ]

    def input_labels(self) -> list[str]:
        """One label per leaf of the differentiable arguments, in ``jax.tree.leaves`` order."""
        labels = []
        for name, i in zip(self.names, self.argnums, strict=True):
            flat = jax.tree_util.tree_flatten_with_path(self.args[i])[0]
            labels += [path_label(name, p) for p, _ in flat]
        return labels


def _with(full: list[Any], argnums: Sequence[int], diff: Sequence[Any]) -> list[Any]:
    out = list(full)
    for i, d in zip(argnums, diff, strict=True):
        out[i] = d
    return out


def default_argnums(args: Sequence[Any]) -> tuple[int, ...]:
    """Every position whose leaves are all floating arrays."""
    found = tuple(
        i
        for i, a in enumerate(args)
        if jax.tree.leaves(a) and all(is_float(x) for x in jax.tree.leaves(a))
    )
    if not found:
        raise ValueError("check_vjp: no argument is a pytree of floating arrays; pass `argnums`")
    return found


def normalise(argnums: int | Sequence[int], args: Sequence[Any]) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or any(not -len(args) <= i < len(args) for i in nums):
        raise ValueError(f"check_vjp: `argnums` {argnums!r} out of range for {len(args)} arguments")
    nums = tuple(i % len(args) for i in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"check_vjp: `argnums` {argnums!r} repeats a position")
    return nums


def arg_names(fn: Callable, n: int) -> list[str]:
    """Names of the first ``n`` positional parameters of ``fn`` (``args[i]`` when unknown)."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"args[{i}]" for i in range(n)]


class Recorder:
    """Collects ``CheckResult`` rows; a check passes when ``rel <= tol`` or ``abs <= atol``."""

    def __init__(self, atol: float = 0.0):
        self.rows: list[CheckResult] = []
        self.atol = atol

    def compare(self, check, dtype, labels, got, want, tol, note="", scale=None) -> None:
        """One row per leaf; ``scale`` (default: each leaf's largest ``|want|``) divides the
        worst absolute error."""
        got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
        if len(got_leaves) != len(want_leaves):
            self.fail(
                check,
                dtype,
                "-",
                tol,
                f"structure differs: {jax.tree.structure(got)} "
                f"vs reference {jax.tree.structure(want)}",
            )
            return
        for label, g, w in zip(labels, got_leaves, want_leaves, strict=True):
            if np.shape(g) != np.shape(w):
                self.fail(check, dtype, label, tol, f"shape {np.shape(g)} vs {np.shape(w)}")
                continue
            abs_err, rel_err, index = relative_error(g, w, scale)
            ok = rel_err <= tol or abs_err <= self.atol
            self.rows.append(
                CheckResult(check, label, dtype, abs_err, rel_err, index, tol, ok, note)
            )

    def fail(self, check, dtype, argument, tol, note) -> None:
        inf = float("inf")
        self.rows.append(CheckResult(check, argument, dtype, inf, inf, (), tol, False, note))

    @contextlib.contextmanager
    def guard(self, check: str, dtype: str, tol: float, argument: str = "-"):
        """Record an exception raised inside the block as a failed row of ``check``."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 - any exception is a failed check, reported
            message = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            self.fail(check, dtype, argument, tol, f"raised {message}")
