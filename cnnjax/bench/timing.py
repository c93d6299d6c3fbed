"""Timing and compiled-memory helpers shared by every benchmark.

``time_call`` runs a function a few times to warm up (the first call compiles), then times
``repeats`` calls, each ended by ``block_until_ready``, and returns the median and the spread.
``compiled_stats`` compiles a jitted function ahead of time and reads XLA's
``memory_analysis()`` (temp bytes: the scratch and the saved residuals of the step).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

__all__ = ["CompiledStats", "Timing", "compiled_stats", "time_call"]


class Timing(NamedTuple):
    """Wall-clock seconds per call: median, minimum and maximum of ``repeats`` runs."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int


def time_call(
    fn: Callable[..., Any], *args: Any, warmup: int = 2, repeats: int = 10, min_time_s: float = 0.0
) -> Timing:
    """Median wall time of ``fn(*args)`` (results blocked on) after ``warmup`` calls.

    ``min_time_s`` keeps repeating past ``repeats`` until that much time has been measured
    (useful for microsecond ops, whose single runs are dominated by scheduling noise).
    """
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times: list[float] = []
    total = 0.0
    while len(times) < repeats or total < min_time_s:
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
        total += times[-1]
        if len(times) >= 50 * max(repeats, 1):
            break
    return Timing(statistics.median(times), min(times), max(times), len(times))


class CompiledStats(NamedTuple):
    """Ahead-of-time compilation of a jitted function: its executable and what it cost."""

    compiled: Any  # jax.stages.Compiled: call it with the same argument shapes
    compile_s: float  # lowering + XLA compilation, seconds
    temp_bytes: int | None  # memory_analysis().temp_size_in_bytes (None where unsupported)
    argument_bytes: int | None
    output_bytes: int | None


def compiled_stats(jitted: Any, *args: Any) -> CompiledStats:
    """Lower and compile ``jitted`` (a ``jax.jit`` function) for ``args``; read its memory."""
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - start
    temp = arg = out = None
    try:
        mem = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        mem = None
    if mem is not None:
        temp = int(getattr(mem, "temp_size_in_bytes", 0))
        arg = int(getattr(mem, "argument_size_in_bytes", 0))
        out = int(getattr(mem, "output_size_in_bytes", 0))
    return CompiledStats(compiled, compile_s, temp, arg, out)
