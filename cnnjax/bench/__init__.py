"""Benchmarks: hand VJPs against JAX autodiff, per op and per training step, on this machine.

``cnnjax bench`` (``cnnjax.commands.bench``) runs :func:`run_benchmark`; the pieces are
usable alone: :mod:`~cnnjax.bench.ops` (per-op forward+backward),
:mod:`~cnnjax.bench.models` (whole train steps), :mod:`~cnnjax.bench.ceiling` (the float32
matmul ceiling), :mod:`~cnnjax.bench.torch_models` (the optional PyTorch comparator) and
:mod:`~cnnjax.bench.report` (tables and JSON).
"""

from cnnjax.bench.suite import Settings, run_benchmark

__all__ = ["Settings", "run_benchmark"]
