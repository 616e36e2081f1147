"""Restart policies, health checks, updates and rollbacks, and what the node engines really ran.

The typed facade covers a service's ordinary life. Checks of restart policies, health checks
and the updater need more of the Engine API:
- services with a restart policy, health check and update/rollback configs of their own;
- full-spec updates, read-modify-write as the CLI does them, including the server-side
  rollback `docker service rollback` asks for (``rollback=previous``);
- task creation times and commands, the update status and its ``updatestate`` events;
- the swarm's task history limit, restored after use;
- each task container's image, start, finish, exit code and health on the engine that ran it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from swarmcheck.client.specs import NS, Healthcheck, RestartPolicy, UpdateConfig
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.interface import Swarm
from swarmcheck.errors import EngineAPIError, NotFound, PromiseTimeout, SwarmPromiseBroken
from swarmcheck.machine.images import workload_image
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

TERMINAL_UPDATE_STATES = frozenset({"completed", "paused", "rollback_completed", "rollback_paused"})
"""Update states the updater stays in until the next spec change."""
SERVICE_LABEL = "com.docker.swarm.service.name"
TASK_LABEL = "com.docker.swarm.task.id"
OUT_OF_SEQUENCE_RETRIES = 5

T = TypeVar("T")

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp with nanoseconds, as the Engine API writes them, in epoch
    seconds; None for an unset time (``0001-01-01T00:00:00Z``)."""
    if not text or text.startswith("0001-01-01"):
        return None
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return moment.astimezone(UTC).timestamp() + float(f"0.{fraction or 0}")


def wait_promise(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout_s: float,
    seen: Callable[[], str],
    interval_s: float = 0.1,
) -> T:
    """``wait_until`` for a documented behaviour: at the deadline the promise is broken
    (``PromiseTimeout``, with what was last seen), not the environment."""

    def broken(what_: str, timeout: float, last_error: str | None) -> PromiseTimeout:
        return PromiseTimeout(what_, timeout, "; ".join(filter(None, [seen(), last_error])))

    return wait_until(
        probe, what=what, timeout_s=timeout_s, interval_s=interval_s, timeout_error=broken
    )


# -- services ------------------------------------------------------------------------------
def create_policy_service(
    client: SwarmClient,
    name: str,
    *,
    image: str | None = None,
    replicas: int = 1,
    command: list[str] | None = None,
    env: list[str] | None = None,
    mounts: list[str] | None = None,
    restart: RestartPolicy | None = None,
    update: UpdateConfig | None = None,
    rollback: UpdateConfig | None = None,
    healthcheck: Healthcheck | None = None,
    stop_grace_s: float = 1.0,
) -> str:
    """Create a replicated service from a locally loaded image (never resolved at a registry)
    with the given policies, the engine's defaults for the rest (an ``UpdateConfig`` with
    ``failure_action=None`` leaves that field to the engine too); a short stop grace period
    keeps crash loops and updates quick."""
    image = image or workload_image("v1")
    return client.create(
        name,
        image,
        replicas=replicas,
        command=command,
        env=env,
        mounts=mounts or (),
        restart=restart,
        update=update,
        rollback=rollback,
        healthcheck=healthcheck,
        stop_grace_s=stop_grace_s,
        title=f"create service {name}: {replicas} x {image}",
    )


def service_attrs(client: SwarmClient, name: str) -> dict[str, Any]:
    """The service as `docker service inspect` shows it."""
    return client.inspect_service(name)


def _update(
    client: SwarmClient, name: str, change: Callable[[dict[str, Any]], None] | None, rollback: bool
) -> None:
    for attempt in range(OUT_OF_SEQUENCE_RETRIES):
        attrs = service_attrs(client, name)
        spec = attrs["Spec"]
        if change is not None:
            change(spec)
        try:
            client.update_service_raw(
                attrs["ID"], attrs["Version"]["Index"], spec, rollback=rollback
            )
            return
        except EngineAPIError as exc:
            if (
                "update out of sequence" not in exc.explanation
                or attempt == OUT_OF_SEQUENCE_RETRIES - 1
            ):
                raise
        time.sleep(0.1)


def update_service(
    client: SwarmClient, name: str, change: Callable[[dict[str, Any]], None], title: str
) -> None:
    """`docker service update`: send the whole current spec with ``change`` applied to it
    (the engine replaces the spec; retried when another write moved the version)."""
    with step(f"update service {name}: {title} (via {client.node})"):
        _update(client, name, change, rollback=False)


def rollback_service(client: SwarmClient, name: str) -> None:
    """`docker service rollback`: an update with ``rollback=previous``, which makes the
    managers restore the service's PreviousSpec (the body is the current spec, as the CLI
    sends it)."""
    with step(f"roll back service {name} (via {client.node})"):
        _update(client, name, None, rollback=True)


def set_container_spec(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """A spec change setting ContainerSpec fields (None removes one, e.g. Command)."""

    def change(spec: dict[str, Any]) -> None:
        container = spec["TaskTemplate"]["ContainerSpec"]
        for key, value in fields.items():
            if value is None:
                container.pop(key, None)
            else:
                container[key] = value

    return change


# -- update status and events --------------------------------------------------------------
@dataclass(frozen=True)
class UpdateStatus:
    """A service's UpdateStatus: state, message and the updater's timestamps."""

    state: str | None
    message: str
    started_at: float | None
    completed_at: float | None

    def __str__(self) -> str:
        return f"{self.state or 'no update'}: {self.message!r}" if self.message else str(self.state)


def update_status(client: SwarmClient, name: str) -> UpdateStatus:
    status = service_attrs(client, name).get("UpdateStatus") or {}
    return UpdateStatus(
        state=status.get("State"),
        message=status.get("Message", ""),
        started_at=parse_time(status.get("StartedAt")),
        completed_at=parse_time(status.get("CompletedAt")),
    )


def wait_update_state(
    client: SwarmClient, name: str, wanted: str | Iterable[str], *, timeout_s: float
) -> UpdateStatus:
    """Wait for the update of ``name`` to reach one of ``wanted``. Reaching another state the
    updater stays in (completed, paused, rollback_*) breaks the promise at once."""
    targets = {wanted} if isinstance(wanted, str) else set(wanted)
    last: list[UpdateStatus] = []

    def reached() -> UpdateStatus | None:
        status = update_status(client, name)
        last[:] = [status]
        if status.state in targets:
            return status
        if status.state in TERMINAL_UPDATE_STATES:
            raise SwarmPromiseBroken(
                f"the update of {name} ended in another state",
                expected=" or ".join(sorted(targets)),
                seen=str(status),
            )
        return None

    return wait_promise(
        reached,
        what=f"bring the update of {name} to {' or '.join(sorted(targets))}",
        timeout_s=timeout_s,
        seen=lambda: str(last[0]) if last else "no answer",
    )


def update_state_events(client: SwarmClient, service_id: str, since: float) -> list[str]:
    """The ``updatestate.new`` values of the service's events since ``since`` (epoch s), in
    order: what `docker events` shows a user watching the update."""
    events = client.engine.events(
        int(since * NS), time.time_ns(), {"type": "service", "service": service_id}
    )
    return [
        attrs["updatestate.new"]
        for event in events
        if "updatestate.new" in (attrs := event.get("Actor", {}).get("Attributes", {}))
    ]


# -- tasks, as the managers record them ----------------------------------------------------
@dataclass(frozen=True)
class TaskRecord:
    """One task of a service with what the updater and restart checks compare: its spec
    (image, command), when it was created and when its state last changed."""

    id: str
    slot: int | None
    node_id: str
    state: str
    desired_state: str
    image: str
    command: tuple[str, ...]
    created_at: float
    status_at: float | None
    error: str | None
    exit_code: int | None
    container_id: str | None


def task_records(client: SwarmClient, service: str) -> list[TaskRecord]:
    """Every task of ``service`` the managers still keep, oldest first."""
    raw = client.raw_tasks(service)
    records = []
    for task in raw:
        status = task.get("Status", {})
        container = status.get("ContainerStatus") or {}
        spec = task.get("Spec", {}).get("ContainerSpec", {})
        records.append(
            TaskRecord(
                id=task["ID"],
                slot=task.get("Slot"),
                node_id=task.get("NodeID", ""),
                state=status.get("State", ""),
                desired_state=task.get("DesiredState", ""),
                image=spec.get("Image", "").split("@")[0],
                command=tuple(spec.get("Command") or ()),
                created_at=parse_time(task.get("CreatedAt")) or 0.0,
                status_at=parse_time(status.get("Timestamp")),
                error=status.get("Err"),
                exit_code=container.get("ExitCode"),
                container_id=container.get("ContainerID"),
            )
        )
    return sorted(records, key=lambda r: r.created_at)


# -- containers, as the node engines run them ----------------------------------------------
@dataclass(frozen=True)
class EngineContainer:
    """A task container as the engine of the node that runs it reports it."""

    node: str
    id: str
    task_id: str
    image: str
    status: str
    exit_code: int
    started_at: float | None
    finished_at: float | None
    health: str | None
    failing_streak: int

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def exited(self) -> bool:
        """It ran and ended: its exit code means something (a container the agent created
        but has not started yet is not running either, and reports exit code 0)."""
        return self.status in ("exited", "dead")


def engine_containers(cluster: Swarm, service: str) -> list[EngineContainer]:
    """Every container of ``service``'s tasks on every node's engine, running or not (one
    the engine removes while being listed is left out)."""
    found = []
    for node in cluster.nodes:
        engine = node.engine()
        for listed in engine.task_containers(service, running=False):
            try:
                attrs = engine.container(listed.id)
            except NotFound:
                continue
            state = attrs.get("State", {})
            health = state.get("Health") or {}
            found.append(
                EngineContainer(
                    node=node.name,
                    id=str(attrs["Id"]),
                    task_id=(attrs.get("Config", {}).get("Labels") or {}).get(TASK_LABEL, ""),
                    image=attrs.get("Config", {}).get("Image", "").split("@")[0],
                    status=state.get("Status", ""),
                    exit_code=int(state.get("ExitCode", 0)),
                    started_at=parse_time(state.get("StartedAt")),
                    finished_at=parse_time(state.get("FinishedAt")),
                    health=health.get("Status"),
                    failing_streak=int(health.get("FailingStreak", 0)),
                )
            )
    return sorted(found, key=lambda c: c.started_at or 0.0)


def exec_in_container(
    cluster: Swarm, container: EngineContainer, cmd: list[str]
) -> tuple[int, str]:
    """Run ``cmd`` in a task container on its node's engine; (exit code, output)."""
    code, out = cluster.node(container.node).engine().exec(container.id, cmd)
    return code, out.strip()


def answer_of(cluster: Swarm, container: EngineContainer, attempts: int = 10) -> str:
    """What the workload in ``container`` answers on its port (its version: v1, v2).

    A container that just started may not listen yet, and an engine can lose the output of a
    command that exits at once: ask again (0.2 s apart) until an answer comes.
    """
    answer = ""
    for attempt in range(attempts):
        code, out = exec_in_container(
            cluster, container, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]
        )
        if code == 0 and out:
            return out
        answer = f"<no answer: exit {code}: {out}>"
        if attempt < attempts - 1:
            time.sleep(0.2)
    return answer


# -- the swarm's task history limit --------------------------------------------------------
@contextmanager
def task_history_limit(client: SwarmClient, limit: int) -> Iterator[int]:
    """Set Orchestration.TaskHistoryRetentionLimit for the block and restore the previous
    value afterwards (the whole spec is sent back: a partial one resets other settings).
    Yields the previous value."""

    def set_limit(value: int) -> int:
        attempt = 0
        while True:
            swarm = client.inspect_swarm()
            spec = swarm["Spec"]
            orchestration = spec.setdefault("Orchestration", {})
            previous = int(orchestration.get("TaskHistoryRetentionLimit", 0))
            orchestration["TaskHistoryRetentionLimit"] = value
            try:
                client.update_swarm_raw(
                    swarm["Version"]["Index"], spec, title=f"task history limit {value}"
                )
                return previous
            except EngineAPIError as exc:
                attempt += 1
                if "out of sequence" not in exc.explanation or attempt == OUT_OF_SEQUENCE_RETRIES:
                    raise
            time.sleep(0.1)

    with step(f"set the swarm's task history limit to {limit}"):
        previous = set_limit(limit)
    try:
        yield previous
    finally:
        with step(f"restore the swarm's task history limit to {previous}"):
            set_limit(previous)


# -- clean-up --------------------------------------------------------------------------------
def remove_services_settled(cluster: Swarm, timeout_s: float = 20.0) -> None:
    """Remove every service and its task containers, and wait until the engines list none.

    Crash-looping services leave exited containers the agents are still removing after the
    service is gone; a reset removing them at the same time fails (404, or 409 "removal
    already in progress"). Here those answers mean "gone soon": the wait ends when no task
    container is left to race with.
    """
    lead = cluster.leader_client()
    with step("remove the services and their task containers"):
        for service in lead.raw_services():
            with contextlib.suppress(NotFound):
                lead.remove_service(service["ID"])

        def settled() -> bool | None:
            left = 0
            for node in cluster.nodes:
                engine = node.engine()
                for container in engine.task_containers(running=False):
                    left += 1
                    with contextlib.suppress(EngineAPIError):
                        engine.remove_container(container.id)
            return True if left == 0 else None

        wait_until(
            settled,
            what="the engines to remove the task containers",
            timeout_s=timeout_s,
            interval_s=0.1,
        )
