"""Test-wide JAX configuration (applies to tests/ and to doctests in cnnjax/).

float64 is enabled so the grid can audit to 1e-10; rank and dtype promotion are strict, so a
bias gradient summed over the wrong axes fails instead of broadcasting quietly.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
