"""Gradient-correctness audits: ``check_vjp`` and the case grid."""
