"""The test suite compiles as ``cnnjax audit`` does: XLA's backend at optimisation level 0.

``tests/ops/test_grid.py`` runs the audit's own checker, so it must also run under the audit's
compiler settings (``cnnjax.commands.audit.FAST_COMPILE``): rounding then matches to the bit,
and the small programs of the tests compile about twice as fast. An ``XLA_FLAGS`` that already
sets the level wins. Initial conftests load before any test or doctest starts a JAX backend,
and the flag is read when the backend starts.
"""

import os

from cnnjax.commands.audit import FAST_COMPILE

_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} {FAST_COMPILE}".strip()
