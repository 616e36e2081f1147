"""Concurrent clients that record histories of the swarm's control plane while faults run.

``RecordingWorkload`` runs, for each model (the service register and the config set, see
``control_objects``), one client thread per manager, each bound to that manager's own engine
(a docker-py client of its own, built by ``client.engine``). Every operation is recorded with
``checkers.history.HistoryRecorder``: call and return on one monotonic clock, the client, the
input, the output, and the outcome: ``ok``, ``fail`` (a documented refusal, certainly not
applied) or ``info`` (unknown), by ``workload.outcomes``.

Rules the histories keep (docs/consistency.md): a client has one operation in flight; after
an ``info`` it goes on under a new client id (the recorder does that); written values are
unique; the state starts known (the register's version and value are read before recording
starts, the set starts empty); ``finish`` ends with an acknowledged write once the fault has
healed, and a read on every manager.

``probing(node)`` adds read-only clients on one manager for a while: the stale-read probes
read on a deposed leader as fast as it answers.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

import docker

from swarmcheck.checkers.history import (
    CAS_REGISTER,
    GROW_ONLY_SET,
    History,
    HistoryRecorder,
    PendingOperation,
    RecordingClient,
)
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmcheckError
from swarmcheck.machine.images import workload_image
from swarmcheck.steps import step
from swarmcheck.timing import boot_clock
from swarmcheck.workload.control_objects import ConfigSet, ServiceRegister
from swarmcheck.workload.outcomes import (
    NO_SUCH_SERVICE,
    failure_of,
    is_already_exists,
    is_not_found,
)

log = logging.getLogger("swarmcheck.workload")

CALL_TIMEOUT_S = 5.0
"""A client gives up on a call after this long (its outcome is then ``info``) and goes on
under a new client id. Short, so that clients write again as soon as a new leader is elected:
a call forwarded to a leader that is gone waits for the engine's own 20 s deadline, and with a
longer timeout every client of the majority sat out most of the election (seen here: no
acknowledged operation for 20 s after the leader was cut off)."""
PROBE_TIMEOUT_S = 25.0
"""Probe clients wait longer than the engine's 20 s deadline: a read sent to a frozen engine
stays queued and is served the moment it thaws, the earliest read a client can make there."""
PROBE_PAUSE_S = 0.01
ERROR_PAUSE_S = 0.3
"""Pause after a call that did not succeed: a dead engine refuses at once, and a client that
retried without pause would only fill the history with refusals."""
PROCESS_SEPARATOR = "/"
"""A client's process is its node's name, alone or followed by ``/probeN`` or ``/final``."""
NO_LABEL = "(no register label)"
"""The value a read records when the service has no register label: never written, so the
checker flags it."""


@dataclass(frozen=True)
class Pace:
    """How fast clients go: the pause after an acknowledged operation, per model."""

    register_s: float = 0.05
    set_s: float = 0.2
    write_ratio: float = 0.5
    """The share of operations that write (the rest read)."""


class Model(ABC):
    """One model's operations, recorded: a step for a workload thread, a final write."""

    name: str

    def __init__(self, recorder: HistoryRecorder, token: str) -> None:
        self.recorder = recorder
        self.token = token
        self._numbers = itertools.count()

    def unique(self, process: str) -> str:
        """A value or name nobody else writes (the recorder refuses a repeat)."""
        return f"{self.token}.{re.sub(r'[^A-Za-z0-9]+', '-', process)}.{next(self._numbers)}"

    @abstractmethod
    def step(self, client: RecordingClient, api: docker.APIClient, node: str, write: bool) -> bool:
        """Run and record one operation (a write when ``write`` and possible); True when
        it was acknowledged."""

    @abstractmethod
    def read(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        """Run and record one read; True when acknowledged."""

    @abstractmethod
    def final_write(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        """One write that should succeed on a healthy swarm (a read first if it needs one);
        True when acknowledged."""


def _failed(op: PendingOperation, error: EngineAPIError) -> bool:
    outcome = failure_of(error)
    if outcome.status == "fail":
        op.fail(outcome.error)
    else:
        op.info(outcome.error)
    return False


class RegisterModel(Model):
    """The service register: ``read`` and ``cas`` with the version the client read last."""

    name = CAS_REGISTER.name

    def __init__(self, recorder: HistoryRecorder, token: str, register: ServiceRegister) -> None:
        super().__init__(recorder, token)
        self.register = register
        self._versions: dict[int, int | None] = {}  # per logical client: the version read last
        self._lock = threading.Lock()

    def _version(self, client: RecordingClient) -> int | None:
        with self._lock:
            return self._versions.get(id(client))

    def _remember(self, client: RecordingClient, version: int | None) -> None:
        with self._lock:
            self._versions[id(client)] = version

    def step(self, client: RecordingClient, api: docker.APIClient, node: str, write: bool) -> bool:
        version = self._version(client)
        if not write or version is None:
            return self.read(client, api, node)
        self._remember(client, None)  # the next cas needs a new read
        return self._cas(client, api, node, version)

    def read(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        with client.op("read") as op:
            try:
                state = self.register.read(api, node)
            except EngineAPIError as exc:
                if not is_not_found(exc):
                    return _failed(op, exc)
                op.ok({"version": 0, "value": NO_SUCH_SERVICE})
                return True
            op.ok({"version": state.version, "value": state.value or NO_LABEL})
        self._remember(client, state.version)
        return True

    def _cas(self, client: RecordingClient, api: docker.APIClient, node: str, version: int) -> bool:
        value = self.unique(client.process)
        with client.op("cas", {"expect_version": version, "value": value}) as op:
            try:
                self.register.cas(api, node, version, value)
            except EngineAPIError as exc:
                return _failed(op, exc)
            op.ok()
        return True

    def final_write(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        if not self.read(client, api, node):
            return False
        version = self._version(client)
        assert version is not None
        return self._cas(client, api, node, version)


class SetModel(Model):
    """The config set: ``create`` a uniquely named config, ``list`` the set's configs."""

    name = GROW_ONLY_SET.name

    def __init__(self, recorder: HistoryRecorder, token: str, configs: ConfigSet) -> None:
        super().__init__(recorder, token)
        self.configs = configs

    def step(self, client: RecordingClient, api: docker.APIClient, node: str, write: bool) -> bool:
        return self._create(client, api, node) if write else self.read(client, api, node)

    def read(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        with client.op("list") as op:
            try:
                names = self.configs.list(api, node)
            except EngineAPIError as exc:
                return _failed(op, exc)
            op.ok({"names": names})
        return True

    def _create(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        name = self.unique(client.process)
        with client.op("create", {"name": name}) as op:
            try:
                self.configs.create(api, node, name)
            except EngineAPIError as exc:
                if not is_already_exists(exc):
                    return _failed(op, exc)
                op.ok({"existed": True})  # a unique name: the create was applied
                return True
            op.ok({"existed": False})
        return True

    def final_write(self, client: RecordingClient, api: docker.APIClient, node: str) -> bool:
        return self._create(client, api, node)


class _Clients:
    """Threads, each one logical client bound to one node's engine, until ``stop``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, name: str, node: Node, run: Callable[[docker.APIClient], None]) -> None:
        def body() -> None:
            client = node.quick_client(self.timeout_s)
            try:
                run(client.api)
            except BaseException as exc:  # a workload bug: stop() reports it
                log.exception("workload client %s stopped", name)
                self.errors.append(exc)
            finally:
                client.close()

        thread = threading.Thread(target=body, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def stop(self) -> None:
        """Stop every thread; each ends after its call in flight (at most the call timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 10)
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise SwarmcheckError(f"workload clients did not stop: {alive}")
        if self.errors:
            raise SwarmcheckError(f"a workload client failed: {self.errors[0]!r}") from self.errors[
                0
            ]


class RecordingWorkload:
    """Both models' clients on every manager, recording histories (see the module docstring).

    ``with RecordingWorkload(cluster, meta=...) as workload:`` creates the objects, reads the
    initial state and starts the clients; ``mark`` notes a moment in every history;
    ``wait_acknowledged`` waits for acknowledged reads and writes after a moment; ``stop`` and
    ``finish`` end it; ``histories()`` gives the histories by model name.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        meta: Mapping[str, Any] | None = None,
        pace: Pace | None = None,
        timeout_s: float = CALL_TIMEOUT_S,
        seed: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.meta = dict(meta or {})
        self.pace = pace or Pace()
        self.timeout_s = timeout_s
        self.token = secrets.token_hex(3)
        self.rng = random.Random(seed)
        self.models: dict[str, Model] = {}
        self._clients = _Clients(timeout_s)
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Self:
        lead = self.cluster.leader()
        with step(f"record histories on {len(self.cluster.managers)} managers"):
            initial = f"{self.token}.initial"
            register = ServiceRegister.create(
                lead.client, lead.name, f"register-{self.token}", workload_image(), initial
            )
            state = register.read(lead.client.api, lead.name)
            meta = {**self.meta, "token": self.token}
            recorders = {
                CAS_REGISTER.name: HistoryRecorder(
                    CAS_REGISTER.name,
                    initial={"version": state.version, "value": state.value or NO_LABEL},
                    meta={**meta, "service": register.service_id},
                ),
                GROW_ONLY_SET.name: HistoryRecorder(
                    GROW_ONLY_SET.name, initial={"names": []}, meta={**meta, "label": self.token}
                ),
            }
            self.models = {
                CAS_REGISTER.name: RegisterModel(
                    recorders[CAS_REGISTER.name], self.token, register
                ),
                GROW_ONLY_SET.name: SetModel(
                    recorders[GROW_ONLY_SET.name], self.token, ConfigSet(self.token)
                ),
            }
        for model in self.models.values():
            for node in self.cluster.managers:
                self._run(model, node, node.name, self._pause_of(model), self._clients)
        self._started = True
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the clients (idempotent); raises if one of them failed (a workload bug)."""
        if self._started:
            self._started = False
            self._clients.stop()

    def _pause_of(self, model: Model) -> float:
        return self.pace.register_s if model.name == CAS_REGISTER.name else self.pace.set_s

    def _run(
        self,
        model: Model,
        node: Node,
        process: str,
        pause_s: float,
        clients: _Clients,
        reads_only: bool = False,
    ) -> None:
        stop = clients.stopping
        rng = random.Random(self.rng.random())

        def loop(api: docker.APIClient) -> None:
            client = model.recorder.client(process)
            while not stop.is_set():
                write = not reads_only and rng.random() < self.pace.write_ratio
                acknowledged = model.step(client, api, node.name, write)
                stop.wait(pause_s if acknowledged else ERROR_PAUSE_S)

        clients.start(f"{model.name}@{process}", node, loop)

    # -- during the run ------------------------------------------------------------------
    def mark(self, label: str, since_boot_s: float | None = None) -> None:
        """Note a moment in every history: now, or the moment ``since_boot_s`` on the boot
        clock (``timing.boot_clock``, the clock fault windows use)."""
        ago = 0.0 if since_boot_s is None else max(0.0, boot_clock() - since_boot_s)
        for model in self.models.values():
            model.recorder.mark(label, ago)

    @contextmanager
    def probing(self, node: Node, clients: int = 2) -> Iterator[None]:
        """Read-only clients on ``node`` (``clients`` per model, ``PROBE_PAUSE_S`` apart)
        while the block runs: a read is in flight on that node at almost every moment."""
        probes = _Clients(PROBE_TIMEOUT_S)
        for model in self.models.values():
            for index in range(clients):
                process = f"{node.name}/probe{index}"
                self._run(model, node, process, PROBE_PAUSE_S, probes, reads_only=True)
        try:
            yield
        finally:
            probes.stop()

    def acknowledged_since(self, since: int) -> dict[str, dict[str, int]]:
        """Per model: acknowledged reads and writes called at or after ``since`` (the
        recorders' clock, see ``now``)."""
        counts: dict[str, dict[str, int]] = {}
        for name, model in self.models.items():
            row = {"reads": 0, "writes": 0}
            for op in model.recorder.history().operations:
                if op.status == "ok" and op.call >= since:
                    row["writes" if op.f in ("cas", "create") else "reads"] += 1
            counts[name] = row
        return counts

    def now(self) -> int:
        """The recorders' clock (they share their origin within a few microseconds)."""
        return max(model.recorder.now() for model in self.models.values())

    def wait_acknowledged(self, timeout_s: float, what: str) -> float:
        """Wait until every model has an acknowledged read and write called from now on;
        return the seconds waited. PromiseTimeout (with the counts) past ``timeout_s``."""
        since = self.now()
        started = time.monotonic()
        counts: dict[str, dict[str, int]] = {}
        while time.monotonic() - started < timeout_s:
            counts = self.acknowledged_since(since)
            if all(row["reads"] and row["writes"] for row in counts.values()):
                return time.monotonic() - started
            time.sleep(0.2)
        raise PromiseTimeout(what, timeout_s, last_error=f"acknowledged: {counts}")

    # -- the end -------------------------------------------------------------------------
    def finish(self, node: Node, timeout_s: float, managers: Sequence[Node] = ()) -> None:
        """After the fault healed: per model, one acknowledged write through ``node``
        (retried until ``timeout_s``; PromiseTimeout past it), then a read on each of
        ``managers`` (default: every manager)."""
        self.stop()
        with step(f"final write through {node.name}, then a read on every manager"):
            client = node.quick_client(self.timeout_s)
            try:
                for model in self.models.values():
                    self._final_write(model, node, client.api, timeout_s)
            finally:
                client.close()
            for manager in managers or self.cluster.managers:
                reader = manager.quick_client(self.timeout_s)
                try:
                    for model in self.models.values():
                        model.read(
                            model.recorder.client(f"{manager.name}/final"), reader.api, manager.name
                        )
                finally:
                    reader.close()

    def _final_write(
        self, model: Model, node: Node, api: docker.APIClient, timeout_s: float
    ) -> None:
        client = model.recorder.client(f"{node.name}/final")
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if model.final_write(client, api, node.name):
                return
            time.sleep(ERROR_PAUSE_S)
        raise PromiseTimeout(
            f"an acknowledged {model.name} write through {node.name} after the fault healed",
            timeout_s,
        )

    def histories(self) -> dict[str, History]:
        """Each model's history so far (operations in flight count as unknown)."""
        return {name: model.recorder.history() for name, model in self.models.items()}


def node_of(process: str) -> str:
    """The node a recorded client talked to (its process: ``manager1``, ``manager1/probe0``)."""
    return process.split(PROCESS_SEPARATOR, 1)[0]
