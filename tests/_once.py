"""Run an expensive JSON-valued fixture body once per test session, even under pytest-xdist.

xdist's default ``--dist load`` hands out tests in consecutive chunks, so the tests of one
module can land on both workers, and a module-scoped fixture then runs on each. :func:`once`
makes the first worker compute the value (under an exclusive ``flock`` on a file in the
session's shared temporary root) and every other worker wait for it and read it back: the
recipe of xdist's documentation, with ``fcntl`` instead of the ``filelock`` package.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]) -> Any:
    """``make(folder)``'s JSON-able value, computed by one worker per session.

    ``folder`` is a fresh directory shared by all workers (``make`` may leave files there for
    the tests to read); the value is cached beside it as ``<name>.json``.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nothing to share
        return make(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent  # this session's folder, above each worker's
    folder, cached = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if cached.is_file():
            return json.loads(cached.read_text())
        shutil.rmtree(folder, ignore_errors=True)  # a worker's failed attempt
        folder.mkdir()
        value = make(folder)
        cached.write_text(json.dumps(value))
        return value
