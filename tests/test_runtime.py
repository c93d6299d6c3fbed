"""cnnjax.runtime: when the process-level settings apply, and that the relaunch really happens."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cnnjax import runtime
from cnnjax.runtime import HUGE_PAGES_ENV, HUGE_PAGES_TUNABLE, huge_pages_environment

GLIBC = (2, 36)


def test_huge_pages_environment_adds_the_tunable():
    env = huge_pages_environment({"PATH": "/bin"}, glibc=GLIBC, thp=True)
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": HUGE_PAGES_TUNABLE}


def test_huge_pages_environment_keeps_the_users_other_tunables():
    env = huge_pages_environment(
        {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, glibc=GLIBC, thp=True
    )
    assert env["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{HUGE_PAGES_TUNABLE}"


@pytest.mark.parametrize(
    "environ, glibc, thp",
    [
        ({HUGE_PAGES_ENV: "0"}, GLIBC, True),  # opted out
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, GLIBC, True),  # the user's own choice
        ({"GLIBC_TUNABLES": HUGE_PAGES_TUNABLE}, GLIBC, True),  # the relaunched process
        ({}, (2, 34), True),  # glibc before the tunable existed
        ({}, None, True),  # not glibc
        ({}, GLIBC, False),  # transparent huge pages "never"
    ],
)
def test_no_relaunch_is_due(environ, glibc, thp):
    assert huge_pages_environment(environ, glibc=glibc, thp=thp) is None


@pytest.mark.parametrize(
    "setting, available",
    [
        ("always [madvise] never\n", True),
        ("[always] madvise never\n", True),
        ("always madvise [never]\n", False),
    ],
)
def test_thp_setting_is_read_from_the_kernel_file(tmp_path, setting, available):
    path = tmp_path / "enabled"
    path.write_text(setting)
    assert runtime._thp_available(str(path)) is available
    assert runtime._thp_available(str(tmp_path / "missing")) is False


def _child(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", HUGE_PAGES_ENV)}
    full_env.update(env)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


RELAUNCH = (
    "import os, sys\n"
    "from cnnjax.runtime import relaunch_with_huge_pages, huge_pages_status\n"
    "print('start', flush=True)\n"
    "relaunch_with_huge_pages()\n"
    "print(os.environ.get('GLIBC_TUNABLES', ''), '|', huge_pages_status())\n"
)


def test_relaunch_reexecutes_with_the_tunable_where_it_applies():
    due = huge_pages_environment({}) is not None  # this machine: glibc >= 2.35 and THP
    out = _child(RELAUNCH).splitlines()
    if due:
        # the first process printed "start" and was replaced; the second printed it again
        assert out == [
            "start",
            "start",
            f"{HUGE_PAGES_TUNABLE} | host huge pages on (GLIBC_TUNABLES={HUGE_PAGES_TUNABLE})",
        ]
    else:
        assert out[0] == "start" and out[1].startswith(" | host huge pages off")


def test_relaunch_respects_the_opt_out():
    out = _child(RELAUNCH, **{HUGE_PAGES_ENV: "0"}).splitlines()
    assert out == ["start", f" | host huge pages off ({HUGE_PAGES_ENV}=0)"]


def test_relaunch_never_discards_a_started_jax():
    code = "import jax.numpy as jnp\nprint(float(jnp.ones(2).sum()))\n" + RELAUNCH
    out = _child(code).splitlines()
    assert out[:2] == ["2.0", "start"] and len(out) == 3
    assert HUGE_PAGES_TUNABLE not in out[2].split("|")[0]


def test_help_starts_no_jax():
    """``cnnjax --help`` and ``cnnjax train --help`` import no JAX (cnnjax/__init__.py loads
    the ops on first use; the commands import their work inside ``run``)."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from cnnjax import cli\n"
        "for argv in (['--help'], ['train', '--help'], ['eval', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.main(argv)\n"
        "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.'))[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
