"""Writes a swarm must refuse under a fault, sent so that the write itself is judged.

Every write here is one request that carries the change: a service update POSTed whole with
the version read before the fault (``SwarmClient.update_service_raw``), or a create. Nothing
reads first, so a read that fails without a leader can never stand in for the refusal. (The
engine itself looks the service up before it forwards an update, moby's UpdateService: that is
the engine's answer to the write, which is what a user sees too.)

``WatchedState`` is read before the fault and after healing; ``checkers.refusals`` judges the
answers and whether anything changed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

from swarmcheck.checkers.refusals import Refusal, WatchedState, WriteAnswer
from swarmcheck.client.swarm import StoredService, SwarmClient
from swarmcheck.cluster.node import Node
from swarmcheck.cluster.view import service_containers
from swarmcheck.errors import EngineAPIError, EngineUnreachable, PromiseTimeout, SwarmPromiseBroken
from swarmcheck.timing import wait_until

JUDGED_WRITE_INTERVAL_S = 3.0
"""Between the writes sent through a fault's window."""
WRITE_CLIENT_TIMEOUT_S = 30.0
"""A judged write's client waits longer than the engine's own 20 s deadline, so the engine
answers (a deadline is an answer; a client that gave up is none)."""


class ServiceWrites:
    """Writes to one service (and creates next to it) through one manager, each built from the
    service as it was stored before the fault and answered into a ``WriteAnswer``."""

    def __init__(
        self, client: SwarmClient, before: StoredService, clock: Callable[[], float]
    ) -> None:
        self.client = client
        self.before = before
        self.clock = clock

    @classmethod
    def via(cls, node: Node, before: StoredService, clock: Callable[[], float]) -> ServiceWrites:
        """Writes through ``node``'s engine, with a client that outwaits the engine's deadline."""
        return cls(SwarmClient(node.name, node.quick_client(WRITE_CLIENT_TIMEOUT_S)), before, clock)

    def scale(self, replicas: int) -> WriteAnswer:
        spec = copy.deepcopy(self.before.spec)
        spec["Mode"] = {"Replicated": {"Replicas": replicas}}
        return self._update("scale", f"replicas={replicas}", {"replicas": replicas}, spec)

    def update_image(self, image: str) -> WriteAnswer:
        spec = copy.deepcopy(self.before.spec)
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
        return self._update("update", f"image={image}", {"image": image}, spec)

    def create(self, name: str) -> WriteAnswer:
        """A one-replica service of the watched service's image, named ``name``."""
        image = self.before.spec["TaskTemplate"]["ContainerSpec"]["Image"]
        spec = {
            "Name": name,
            "TaskTemplate": {"ContainerSpec": {"Image": image}},
            "Mode": {"Replicated": {"Replicas": 1}},
        }
        return send_write(
            "create",
            f"create service {name} via {self.client.node}",
            lambda: self.client.create_service_raw(spec),
            {"service": name},
            self.clock,
        )

    def _update(self, kind: str, change: str, asked: dict[str, object], spec: Any) -> WriteAnswer:
        name, version = self.before.spec["Name"], self.before.version
        return send_write(
            kind,
            f"{kind} {name} to {change} at version {version} via {self.client.node}",
            lambda: self.client.update_service_raw(self.before.id, version, spec),
            asked,
            self.clock,
        )


def refused_through(
    writes: ServiceWrites,
    ends_at: float,
    replicas: int,
    image: str,
    interval_s: float = JUDGED_WRITE_INTERVAL_S,
) -> list[WriteAnswer]:
    """Scale the service to ``replicas`` and update it to ``image``, in turn, every
    ``interval_s`` until ``writes.clock()`` reaches ``ends_at`` (at least one of each): writes
    that must all be refused through a fault's whole window."""
    answers: list[WriteAnswer] = []
    while True:
        if len(answers) % 2 == 0:
            answers.append(writes.scale(replicas))
        else:
            answers.append(writes.update_image(image))
        left = ends_at - writes.clock()
        if left <= 0 and len(answers) >= 2:
            return answers
        time.sleep(min(interval_s, max(left, 0.0)))


def send_write(
    kind: str,
    what: str,
    send: Callable[[], object],
    asked: dict[str, object],
    clock: Callable[[], float],
) -> WriteAnswer:
    """Send one write and keep the engine's answer (an error's status and text; no answer
    when the client gave up first)."""
    started = clock()
    try:
        send()
    except EngineUnreachable as exc:
        return WriteAnswer(kind, what, started, clock() - started, None, str(exc), asked, False)
    except EngineAPIError as exc:
        took = clock() - started
        return WriteAnswer(kind, what, started, took, exc.status_code, exc.explanation, asked)
    return WriteAnswer(kind, what, started, clock() - started, None, None, asked)


def await_refusal(
    write: Callable[[int], WriteAnswer], refusal: Refusal, timeout_s: float, what: str
) -> list[WriteAnswer]:
    """Send ``write(i)`` (i = 0, 1, ...) until one is refused the documented way; return every
    answer, that refusal last.

    An accepted write or any other answer is a broken promise at once (``SwarmPromiseBroken``);
    answers of unknown outcome (a deadline while the leader steps down) and a client that gave
    up mean "not yet"; no documented refusal within ``timeout_s`` is a ``PromiseTimeout``."""
    answers: list[WriteAnswer] = []

    def refused() -> bool | None:
        answer = write(len(answers))
        answers.append(answer)
        outcome = answer.outcome(refusal)
        if outcome == "refused":
            return True
        if outcome in ("accepted", "other"):
            raise SwarmPromiseBroken(
                f"a write the swarm had to refuse was {outcome}: {answer.what}",
                expected=f"a refusal: {refusal.describe()}",
                seen="; ".join(str(a) for a in answers[-4:]),
            )
        return None

    def broken(waited_for: str, waited_s: float, _: str | None) -> PromiseTimeout:
        return PromiseTimeout(waited_for, waited_s, "; ".join(str(a) for a in answers[-3:]))

    wait_until(
        refused,
        what=f"{what} to be refused with {refusal.describe()}",
        timeout_s=timeout_s,
        interval_s=0.5,
        transient=(),
        timeout_error=broken,
    )
    return answers


def watched_state(
    client: SwarmClient, stored: StoredService, nodes: Sequence[Node]
) -> WatchedState:
    """The service as ``client`` just read it (``stored``), every service's name, and the
    service's running task containers on each of ``nodes`` (None: the engine did not answer)."""
    name = str(stored.spec["Name"])
    return WatchedState(
        version=stored.version,
        spec=stored.spec,
        services=frozenset(s.name for s in client.services()),
        containers={n.name: service_containers(n, name) for n in nodes},
    )
