"""The run directory's lifecycle: up-front checks, the lock, staging and the swap.

A run directory holds one run. Nothing in it is replaced until the new run has something to
show for itself:

- :func:`check_writable` fails in one line before any work when ``--out`` names a file, or a
  folder (or the nearest existing parent of a new one) that this process cannot write.
- :class:`RunLock` holds ``<out>/.lock`` (pid, host, start time) for the whole run; a second
  run into the same folder fails naming the holder; a lock left by a dead process on this
  host is taken over with a warning, together with that process's staging folder and
  half-written temporary files.
- A new run (fresh, or ``--overwrite``) writes into ``<out>/.staging-<pid>/`` until its first
  checkpoint, at the end of epoch 1; :func:`commit_staging` then moves it into place
  (the old run's ``summary.json`` and ``curves.png`` go first, then the new checkpoint, then
  its metrics and config). A start that fails before that leaves the old run untouched and
  removes the staging folder, and the run folder itself when this run created it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

LOCK = ".lock"
STAGING = ".staging-"


class RunDirError(RuntimeError):
    """The run directory cannot be used: not writable, a file, or locked by another run."""


def check_writable(out: Path) -> None:
    """Raise :class:`RunDirError` unless ``out`` is, or can be created as, a writable folder."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file, not a folder; name a folder for the run")
    folder = out
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise RunDirError(f"--out {out}: {folder} is a file, not a folder")
    try:  # a real write: os.access says yes to root even on a read-only file system
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise RunDirError(f"--out {out}: {folder} is not writable ({e.strerror})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``with RunLock(out):`` holds ``out/.lock``; creates ``out`` (and removes it again on
    exit when this run created it and left nothing but its own files)."""

    def __init__(self, out: Path):
        self.out, self.path = out, out / LOCK
        self.created = False

    def __enter__(self) -> RunLock:
        self.created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        tmp = self.out / f".lock.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(me) + "\n")
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)  # atomic: fails when another run holds the lock
                    return self
                except FileExistsError:
                    self._take_over_if_stale()
            raise RunDirError(f"{self.out}: could not take the lock {self.path}")
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over_if_stale(self) -> None:
        try:
            holder = json.loads(self.path.read_text())
            pid, host = int(holder["pid"]), str(holder["host"])
        except (OSError, ValueError, KeyError, TypeError):
            holder, pid, host = {}, -1, socket.gethostname()
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
        if host != socket.gethostname() or (pid > 0 and _alive(pid)):
            raise RunDirError(
                f"{self.out} is in use by another run (pid {pid} on {host}, started {started}); "
                f"wait for it, use another --out, or delete {self.path} if that run is gone"
            )
        print(
            f"cnnjax: warning: taking over the stale lock {self.path} of pid {pid} "
            f"(no longer running)",
            file=sys.stderr,
        )
        shutil.rmtree(self.out / f"{STAGING}{pid}", ignore_errors=True)
        for tmp in self.out.glob(".*.tmp*"):  # half-written files of the dead run's writes
            if not tmp.name.startswith(LOCK):  # lock candidates: ours, or a live rival's
                tmp.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
        if self.created:
            try:
                self.out.rmdir()  # only when empty: a run that wrote nothing leaves nothing
            except OSError:
                pass


def staging_dir(out: Path) -> Path:
    """The folder a new run writes into until its first checkpoint (created here)."""
    stage = out / f"{STAGING}{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    return stage


def commit_staging(stage: Path, out: Path, outputs: tuple[str, ...], checkpoint: str) -> None:
    """Replace ``out``'s earlier run by the staged one: the old derived files first, then the
    checkpoint (the commit point: a resume trusts it), then the rest; then drop ``stage``."""
    for name in outputs:
        if not (stage / name).exists():
            (out / name).unlink(missing_ok=True)
    os.replace(stage / checkpoint, out / checkpoint)
    for name in outputs:
        if (stage / name).exists():
            os.replace(stage / name, out / name)
    shutil.rmtree(stage, ignore_errors=True)
