"""Process-level runtime settings: fast CPU convolutions by default, with an opt-out.

Measured on jaxlib 0.10.2 (2 cores): XLA:CPU hands convolutions to YNNPACK, which runs them on
one core; the flag ``--xla_cpu_experimental_ynn_fusion_type=-individual_convolution`` sends
them back to XLA's multi-threaded Eigen path (a CIFAR-style training step fell from ~1.7 s to
~0.4 s). The flag is experimental and version-specific, and XLA aborts at start-up on a flag
it does not know, so it is set only on jaxlib versions known to accept it, only when the user
has not set it already, and only before JAX's backends start. ``CNNJAX_FAST_CONV=0`` opts out.
The ``cnnjax`` CLI and the benchmarks call :func:`configure_fast_cpu_convolutions`; library
users may call it first thing in their own programs.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

FAST_CONV_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
# jaxlib release prefixes on which the flag was checked to be accepted and to help.
KNOWN_FLAG_VERSIONS = ("0.10.",)
OPT_OUT_ENV = "CNNJAX_FAST_CONV"


def _backends_started() -> bool:
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def fast_conv_status() -> str:
    """One line saying whether the fast-convolution flag is in effect, and why."""
    flags = os.environ.get("XLA_FLAGS", "")
    if FAST_CONV_FLAG in flags:
        return f"fast CPU convolutions on (XLA_FLAGS has {FAST_CONV_FLAG})"
    if os.environ.get(OPT_OUT_ENV, "1") == "0":
        return f"fast CPU convolutions off ({OPT_OUT_ENV}=0)"
    return "fast CPU convolutions off (flag not set for this jaxlib or set too late)"


def configure_fast_cpu_convolutions(enable: bool | None = None) -> bool:
    """Add :data:`FAST_CONV_FLAG` to ``XLA_FLAGS`` when it is known to be safe and useful.

    Args:
      enable: ``None`` follows the ``CNNJAX_FAST_CONV`` environment variable (default on);
        ``False`` does nothing; ``True`` applies it wherever it is safe.

    Returns:
      True when this call added the flag.
    """
    if enable is None:
        enable = os.environ.get(OPT_OUT_ENV, "1") != "0"
    existing = os.environ.get("XLA_FLAGS", "")
    if not enable or "xla_cpu_experimental_ynn_fusion_type" in existing or _backends_started():
        return False
    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not version.startswith(KNOWN_FLAG_VERSIONS):
        return False
    os.environ["XLA_FLAGS"] = f"{existing} {FAST_CONV_FLAG}".strip()
    return True
