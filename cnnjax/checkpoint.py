"""Checkpoints: pytrees of arrays in one ``.npz``, written atomically, read without pickle.

A checkpoint holds named pytrees (``params``, ``state``, ``opt_state``) plus a JSON ``meta``
dict. Each leaf is stored under ``<tree>/<key path>``; loading rebuilds every tree from an
in-memory *template* (e.g. freshly initialised parameters) and checks that the leaf names,
shapes and dtypes all match, so a checkpoint from another model fails with a clear message
instead of silently loading.

>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
>>> trees = {"params": {"w": np.ones((2, 3), np.float32)}}
>>> save_checkpoint(path, trees, {"epoch": 1})
>>> loaded, meta = load_checkpoint(path, trees)
>>> loaded["params"]["w"].shape, meta
((2, 3), {'epoch': 1})
>>> load_checkpoint(path, {"params": {"w": np.ones((3, 3), np.float32)}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cnnjax.checkpoint.CheckpointError: ...: leaf `params['w']` has shape (2, 3) and dtype float32, ...
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

FORMAT = "cnnjax-checkpoint-1"
_META = "__meta__"
# Tests only: seconds to pause between the fsynced temporary file and its rename, so a test
# can kill a run in the middle of a checkpoint write.
PAUSE_ENV = "CNNJAX_TEST_CHECKPOINT_PAUSE_S"
PAUSE_AT_ENV = "CNNJAX_TEST_CHECKPOINT_PAUSE_EPOCH"  # only the write whose meta has this epoch


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or does not fit the model."""


def _leaves(tree: Any) -> list[tuple[str, Any]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def save_checkpoint(path: str | Path, trees: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Write ``trees`` and the JSON-able ``meta`` to ``path`` atomically.

    The arrays go to a temporary file in the same directory, which is flushed, fsynced and
    then ``os.replace``-d onto ``path``: a reader sees the old or the new checkpoint, never a
    torn one, even if the process is killed mid-write.
    """
    path = Path(path)
    arrays = {_META: np.array(json.dumps({"format": FORMAT, **meta}))}
    for name, tree in trees.items():
        for key, leaf in _leaves(tree):
            arrays[f"{name}/{key}"] = np.asarray(leaf)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        _test_pause(path, meta)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _test_pause(path: Path, meta: Mapping[str, Any]) -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    at = os.environ.get(PAUSE_AT_ENV)
    if seconds > 0 and (at is None or str(meta.get("epoch")) == at):
        print(f"cnnjax: test hook: pausing {seconds} s before replacing {path}", file=sys.stderr)
        sys.stderr.flush()
        time.sleep(seconds)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_entries(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, or a ``CheckpointError`` saying what is wrong."""
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({e.strerror})") from None
    if size == 0:
        raise CheckpointError(f"{path}: the checkpoint is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path}: not a checkpoint: not a .npz (zip) archive, or truncated ({size} bytes)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({type(e).__name__}: {e})") from None


def _read_meta(path: Path, stored: dict[str, np.ndarray]) -> dict[str, Any]:
    if _META not in stored:
        raise CheckpointError(f"{path}: not a cnnjax checkpoint (no {_META} entry)")
    try:
        meta = json.loads(str(stored.pop(_META)))
    except ValueError as e:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: damaged checkpoint metadata (not a JSON object)")
    if meta.pop("format", None) != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format, expected {FORMAT}")
    return meta


def require_meta(path: str | Path, meta: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Raise a ``CheckpointError`` naming the keys of ``keys`` missing from ``meta``."""
    missing = [k for k in keys if k not in meta]
    if missing:
        raise CheckpointError(
            f"{path}: checkpoint metadata lacks {', '.join(map(repr, missing))} "
            f"(has {sorted(meta)}); was it written by cnnjax train?"
        )


def load_checkpoint(
    path: str | Path, templates: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint into the structure of ``templates`` (no pickle involved).

    Args:
        path: a file written by :func:`save_checkpoint`.
        templates: name -> pytree with the expected structure, leaf shapes and dtypes.

    Returns:
        ``(trees, meta)``: name -> pytree of numpy arrays, and the meta dict.

    Raises:
        CheckpointError: naming the file and what is wrong: missing, empty, not a zip
            archive, truncated or CRC-corrupt, metadata that is not cnnjax's, or the first leaf
            that is missing, unexpected, or of the wrong shape or dtype.
    """
    path = Path(path)
    stored = _read_entries(path)
    meta = _read_meta(path, stored)
    trees = {}
    for name, template in templates.items():
        leaves = []
        for key, leaf in _leaves(template):
            entry = f"{name}/{key}"
            if entry not in stored:
                raise CheckpointError(f"{path}: leaf `{name}{key}` is missing")
            got, want = stored.pop(entry), np.asarray(leaf)
            if got.shape != want.shape or got.dtype != want.dtype:
                raise CheckpointError(
                    f"{path}: leaf `{name}{key}` has shape {got.shape} and dtype {got.dtype}, "
                    f"expected shape {want.shape} and dtype {want.dtype}"
                )
            leaves.append(got)
        trees[name] = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
    extra = sorted(k for k in stored if k.split("/", 1)[0] in templates)
    if extra:
        raise CheckpointError(f"{path}: unexpected leaf `{extra[0]}` (a different model?)")
    return trees, meta
