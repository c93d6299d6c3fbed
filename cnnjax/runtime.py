"""Process-level runtime settings: fast CPU convolutions and huge pages by default, each with
an opt-out.

Measured on jaxlib 0.10.2 (2 cores): XLA:CPU hands convolutions to YNNPACK, which runs them on
one core; the flag ``--xla_cpu_experimental_ynn_fusion_type=-individual_convolution`` sends
them back to XLA's multi-threaded Eigen path (a CIFAR-style training step fell from ~1.7 s to
~0.4 s). The flag is experimental and version-specific, and XLA aborts at start-up on a flag
it does not know, so it is set only on jaxlib versions known to accept it, only when the user
has not set it already, and only before JAX's backends start. ``CNNJAX_FAST_CONV=0`` opts out.
The ``cnnjax`` CLI and the benchmarks call :func:`configure_fast_cpu_convolutions`; library
users may call it first thing in their own programs.

The second setting, transparent huge pages for large host allocations, can only be made when a
process starts; :func:`relaunch_with_huge_pages` says why and how the CLI does it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import os
import sys

FAST_CONV_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
# jaxlib release prefixes on which the flag was checked to be accepted and to help.
KNOWN_FLAG_VERSIONS = ("0.10.",)
OPT_OUT_ENV = "CNNJAX_FAST_CONV"
_HUGETLB = "glibc.malloc.hugetlb"  # the tunable's name; any value there is the user's choice
HUGE_PAGES_TUNABLE = f"{_HUGETLB}=1"
HUGE_PAGES_ENV = "CNNJAX_HUGE_PAGES"
_THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"


def backends_started() -> bool:
    """Whether JAX's backends have started (XLA flags and process settings are then fixed)."""
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
    if not enable or "xla_cpu_experimental_ynn_fusion_type" in existing or backends_started():
        return False
    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not version.startswith(KNOWN_FLAG_VERSIONS):
        return False
    os.environ["XLA_FLAGS"] = f"{existing} {FAST_CONV_FLAG}".strip()
    return True


def huge_pages_status() -> str:
    """One line saying whether this process runs with :data:`HUGE_PAGES_TUNABLE`."""
    if _HUGETLB in os.environ.get("GLIBC_TUNABLES", ""):
        return f"host huge pages on (GLIBC_TUNABLES={os.environ['GLIBC_TUNABLES']})"
    if os.environ.get(HUGE_PAGES_ENV, "1") == "0":
        return f"host huge pages off ({HUGE_PAGES_ENV}=0)"
    return "host huge pages off (not glibc >= 2.35 with transparent huge pages, or not relaunched)"


def _glibc_version() -> tuple[int, int] | None:
    """glibc's (major, minor) when this process runs on glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        version = libc.gnu_get_libc_version  # AttributeError on musl and other C libraries
    except (OSError, AttributeError):
        return None
    version.restype = ctypes.c_char_p
    try:
        major, minor = version().decode().split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def _thp_available(setting_path: str = _THP_SETTING) -> bool:
    """Whether the kernel grants transparent huge pages on request (``always`` or ``madvise``)."""
    try:
        with open(setting_path) as f:
            setting = f.read()
    except OSError:
        return False
    return "[always]" in setting or "[madvise]" in setting


def huge_pages_environment(
    environ: dict[str, str] | None = None,
    glibc: tuple[int, int] | None | str = "detect",
    thp: bool | None = None,
) -> dict[str, str] | None:
    """The environment to relaunch with for huge pages, or None when no relaunch is due.

    None when ``CNNJAX_HUGE_PAGES=0``, when ``GLIBC_TUNABLES`` already sets
    ``glibc.malloc.hugetlb`` (the user's choice, or the relaunched process itself), when the C
    library is not glibc 2.35 or newer (the tunable's first release), or when the kernel's
    transparent huge pages are ``never``. ``glibc`` and ``thp`` override the detection
    (tests).
    """
    env = dict(os.environ if environ is None else environ)
    if env.get(HUGE_PAGES_ENV, "1") == "0":
        return None
    tunables = env.get("GLIBC_TUNABLES", "")
    if _HUGETLB in tunables:
        return None
    version = _glibc_version() if glibc == "detect" else glibc
    if version is None or version < (2, 35):
        return None
    if not (_thp_available() if thp is None else thp):
        return None
    env["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGES_TUNABLE}" if tunables else HUGE_PAGES_TUNABLE
    return env


def relaunch_with_huge_pages() -> None:
    """Re-execute this process with glibc's malloc asking for transparent huge pages.

    XLA:CPU allocates a compiled step's temp buffers (vgg_small's: 199.5 MiB) at every call
    and frees them after it; glibc serves blocks that large with ``mmap`` and returns them with
    ``munmap``, so each step faulted its temp memory in again: 51,410 4-KiB page faults a
    vgg_small step, 59,290 a resnet20 step. With ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``
    glibc advises the kernel to back those blocks with 2-MiB pages: about 700 faults. On 2
    cores, fastest step of alternating processes: vgg_small 743-811 -> 696-737 ms, resnet20
    369-405 -> 317-337 ms; ``cnnjax bench --compare-huge-pages`` in two runs: 1.02-1.07x and
    1.03-1.21x; lenet5 and digits_cnn, which fault nothing back in, unchanged. glibc reads its
    tunables only when a process starts, hence the relaunch: ``os.execve`` of the same
    interpreter with the same arguments (``sys.orig_argv``) and the tunable added, before
    anything else has run.

    Does nothing when :func:`huge_pages_environment` says no relaunch is due (opt out with
    ``CNNJAX_HUGE_PAGES=0``), when JAX has started already, or when the interpreter's command
    line is unknown; an ``execve`` that fails leaves the process running as it was. Importing
    JAX before it is harmless (the new process imports it again, ~1 s); computing with it is
    not, since the relaunch would discard that work. Library users get the same by starting
    Python with the variable set.
    """
    env = huge_pages_environment()
    argv = getattr(sys, "orig_argv", None)
    if env is None or not argv or not sys.executable or backends_started():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, env)
    except OSError:
        return
