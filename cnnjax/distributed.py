"""Data-parallel training over many devices and hosts, with JAX's own machinery.

A run uses a 1-D mesh with one axis, ``data``, over ``[train] devices`` (``"all"`` or a
count). Each global batch is a ``jax.Array`` sharded along its first axis
(``NamedSharding(mesh, P("data"))``); parameters, model state and optimizer state are
replicated (``P()``). The train step is an ordinary ``jax.jit`` with those shardings, so XLA
inserts the all-reduces itself: the batch mean of the loss (hence the gradient sum) and the
batch-norm statistics (``jnp.mean`` over the batch axis inside ``ops.batch_norm`` and its hand
VJP) are reductions over the *global* batch, and a run's numbers do not depend on the device
count beyond float32 round-off.

Multi-host: :func:`initialize` calls ``jax.distributed.initialize`` when a coordinator address
is set (``[distributed]`` or ``JAX_COORDINATOR_ADDRESS``). Every host loads the whole data set
(the shuffle and the normalisation statistics are global), then materialises only its own
rows of each global batch (:func:`host_batches`), which
``jax.make_array_from_process_local_data`` assembles into the global batch.

>>> import numpy as np
>>> p = make_placement(1)
>>> p.num_devices, p.local_rows(8)
(1, slice(0, 8, None))
>>> x = p.shard(np.arange(8.0, dtype=np.float32))
>>> x.shape, x.sharding.spec == PartitionSpec("data")
((8,), True)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from cnnjax.data import epoch_batches
from cnnjax.runtime import backends_started

AXIS = "data"
ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"
# Seconds to wait for the coordinator before giving up (JAX's default is 300).
ENV_TIMEOUT = "CNNJAX_COORDINATOR_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 120
_COUNT_FLAG = "--xla_force_host_platform_device_count"


def force_host_device_flags(count: int, flags: str = "") -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with ``count`` forced CPU devices, other flags kept.

    The flag only takes effect in a process whose JAX backends have not started yet (set it
    in a subprocess's environment).

    >>> force_host_device_flags(4, "--a=1 --xla_force_host_platform_device_count=2")
    '--a=1 --xla_force_host_platform_device_count=4'
    """
    kept = re.sub(rf"\s*{_COUNT_FLAG}=\S*", "", flags).strip()
    return f"{kept} {_COUNT_FLAG}={count}".strip()


def force_host_device_env(count: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default ``os.environ``) whose ``XLA_FLAGS`` force ``count`` devices."""
    env = dict(os.environ if env is None else env)
    env["XLA_FLAGS"] = force_host_device_flags(count, env.get("XLA_FLAGS", ""))
    return env


def initialize(settings, *, timeout_s: int | None = None) -> bool:
    """Join a multi-host run when a coordinator address is configured; True if multi-host.

    Each of ``coordinator_address``, ``num_processes``, ``process_id`` comes from
    ``settings`` (a config's ``[distributed]`` table), else from ``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``. Must run before JAX computes anything. Waits
    ``timeout_s`` (default ``$CNNJAX_COORDINATOR_TIMEOUT_S`` or 120) for the coordinator.

    Raises:
        ValueError: a bad environment value, JAX's backends already started, or no
            coordinator answering at the address in time (the message names it).
    """
    address = settings.coordinator_address or os.environ.get(ENV_COORDINATOR)
    if not address:
        return False
    if jax.distributed.is_initialized():
        return jax.process_count() > 1
    counts = {}
    for key, env in (("num_processes", ENV_NUM_PROCESSES), ("process_id", ENV_PROCESS_ID)):
        value = getattr(settings, key)
        if value is None and os.environ.get(env):
            try:
                value = int(os.environ[env])
            except ValueError:
                raise ValueError(f"${env} must be an integer, got {os.environ[env]!r}") from None
        counts[key] = value
    if backends_started():
        raise ValueError(
            "jax.distributed.initialize must run before JAX computes anything; start the run "
            "in a fresh process"
        )
    timeout = int(timeout_s or os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT_S)
    if counts["process_id"] != 0:  # process 0 serves the coordinator; the others dial it
        _wait_for_coordinator(address, timeout)
    try:
        jax.distributed.initialize(
            address, counts["num_processes"], counts["process_id"], initialization_timeout=timeout
        )
    except Exception as e:  # XLA's runtime errors have no stable type
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"could not join the run at coordinator {address} within {timeout} s "
            f"(set ${ENV_TIMEOUT} to wait longer): {first}"
        ) from None
    return jax.process_count() > 1


def _wait_for_coordinator(address: str, timeout: int) -> None:
    """Return once ``address`` (``host:port``) accepts a TCP connection; ``ValueError`` after
    ``timeout`` seconds. Checked here because XLA's client aborts the whole process (no
    Python exception) when its own registration deadline passes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"coordinator address must be host:port, got {address!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError as e:
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"could not join the run at coordinator {address} within {timeout} s "
                    f"({e.strerror or e}); is process 0 running? (set ${ENV_TIMEOUT} to "
                    "wait longer)"
                ) from None
            time.sleep(0.25)


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a data-parallel run's arrays live: the ``data`` mesh and its two shardings."""

    mesh: Mesh

    @property
    def batch(self) -> NamedSharding:
        """Split along the first (batch) axis over the ``data`` mesh axis."""
        return NamedSharding(self.mesh, PartitionSpec(AXIS))

    @property
    def replicated(self) -> NamedSharding:
        """A full copy on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def num_devices(self) -> int:
        return int(self.mesh.size)

    @property
    def key(self) -> tuple[int, ...]:
        """The mesh's device ids, for caches of compiled steps."""
        return tuple(int(d.id) for d in self.mesh.devices.flat)

    def local_rows(self, global_batch: int) -> slice:
        """The rows of a global batch of ``global_batch`` that this process's devices hold."""
        spans = self.batch.addressable_devices_indices_map((global_batch,)).values()
        starts = sorted(s[0].indices(global_batch)[:2] for s in spans)
        lo, hi = starts[0][0], starts[-1][1]
        if sum(b - a for a, b in starts) != hi - lo:
            raise RuntimeError(f"this process's rows of the batch are not contiguous: {starts}")
        return slice(lo, hi)

    def from_local(self, local: np.ndarray, global_batch: int) -> jax.Array:
        """The global batch array from this process's rows ``local`` (see :meth:`local_rows`)."""
        shape = (global_batch, *np.shape(local)[1:])
        return jax.make_array_from_process_local_data(self.batch, np.asarray(local), shape)

    def shard(self, array: np.ndarray) -> jax.Array:
        """A global batch array from the full batch ``array`` (every process passes the same)."""
        n = np.shape(array)[0]
        return self.from_local(np.asarray(array)[self.local_rows(n)], n)

    def replicate(self, tree: Any) -> Any:
        """``tree`` (the same values on every process) copied to every device of the mesh."""
        return jax.tree.map(self._replicate_leaf, tree)

    def _replicate_leaf(self, leaf: Any) -> jax.Array:
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = self._replicate_leaf(jax.random.key_data(leaf))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        value = np.asarray(leaf)
        return jax.make_array_from_callback(value.shape, self.replicated, lambda i: value[i])


def make_placement(devices: int | str = 1) -> Placement:
    """The ``data`` mesh over ``devices`` (``"all"`` or a count of global devices).

    With several processes a count must be a multiple of the process count; each process
    contributes its first ``devices / process_count`` local devices.

    Raises:
        ValueError: when there are not enough devices (the training layer names the key).
    """
    available, procs = jax.devices(), jax.process_count()
    if devices == "all":
        chosen = list(available)
    else:
        if devices > len(available) or devices % procs:
            raise ValueError(
                f"is {devices} but this run has {len(available)} "
                f"device(s) over {procs} process(es); use a multiple of {procs} up to "
                f'{len(available)}, or "all"',
            )
        per = devices // procs
        chosen = [d for p in range(procs) for d in _process_devices(available, p)[:per]]
    chosen.sort(key=lambda d: (d.process_index, d.id))
    return Placement(Mesh(np.asarray(chosen), (AXIS,), axis_types=(AxisType.Auto,)))


def _process_devices(devices, process: int) -> list:
    return [d for d in devices if d.process_index == process]


def check_batch_size(batch_size: int, placement: Placement) -> None:
    """Raise a ``ValueError`` unless the placement's devices divide ``batch_size``."""
    n = placement.num_devices
    if batch_size % n:
        raise ValueError(
            f"is {batch_size}, which the {n} devices of "
            f"`train.devices` do not divide; use a multiple of {n} (each device gets "
            f"batch_size / {n} examples)",
        )


def to_host(tree: Any) -> Any:
    """Numpy copies of a tree of replicated (or single-device) arrays: device-free, so a
    checkpoint written on N devices loads on any other number."""

    def leaf(x: Any) -> np.ndarray:
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(x.addressable_data(0))
        return np.asarray(x)

    return jax.tree.map(leaf, tree)


def host_batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    placement: Placement,
    *,
    seed: int,
    epoch: int,
    augment: Any = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """This process's rows of each global batch of :func:`cnnjax.data.epoch_batches`.

    The global order is the same on every host (it depends on ``seed`` and ``epoch`` only),
    so the hosts' rows together are exactly the single-process batches. Without
    augmentation a host gathers only its own rows; with it, the augmentation is drawn for
    the whole global batch (so it does not depend on the host count) and then sliced.
    """
    rows = placement.local_rows(batch_size)
    if augment is not None:
        for x, y in epoch_batches(
            images, labels, batch_size, seed=seed, epoch=epoch, augment=augment
        ):
            yield x[rows], y[rows]
        return
    index = np.arange(images.shape[0])
    for idx, y in epoch_batches(index, labels, batch_size, seed=seed, epoch=epoch):
        yield images[idx[rows]], y[rows]


def is_main_process() -> bool:
    """True on the process that writes metrics, checkpoints and the console output."""
    return jax.process_index() == 0


def broadcast_from_main(tree: Any) -> Any:
    """``tree`` as process 0 has it, on every process (a no-op in a single process)."""
    if jax.process_count() == 1:
        return tree
    return multihost_utils.broadcast_one_to_all(tree)


def broadcast_json(value: Any) -> Any:
    """A JSON-able ``value`` as process 0 has it, on every process."""
    if jax.process_count() == 1:
        return value
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    size = int(broadcast_from_main(np.int32(data.size)))
    buf = data if is_main_process() else np.zeros(size, np.uint8)
    return json.loads(bytes(np.asarray(broadcast_from_main(buf), np.uint8)))
