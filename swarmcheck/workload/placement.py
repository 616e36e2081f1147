"""Where a service's tasks run: as the managers place them and as the node engines run them.

Scheduling and node-management checks create services with placement rules (constraints,
spread preferences, a per-node maximum, modes other than replicated), wait for the placement
to settle, and compare what the managers report with the task containers each node's own
engine runs: a placement only counts when both agree.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker.types import Resources, RestartPolicy, ServiceMode

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import NS, SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, EngineUnreachable, PromiseTimeout
from swarmcheck.steps import step
from swarmcheck.timing import hold, wait_until
from swarmcheck.workload.service import workload_image

PLACEMENT_BUDGET_S = 30.0
"""moby's defaultReconciliationTimeout (integration-cli): the budget for a placement to settle."""
ENGINE_LOOK_TIMEOUT_S = 3.0
"""A look at one engine gives up after this (a stopped or frozen node must not stall a wait)."""
STOP_GRACE_NS = NS
"""Tasks that move stop within a second (the workload does not need the default 10 s)."""


def promise_timeout(what: str, timeout_s: float, last_error: str | None) -> PromiseTimeout:
    """``wait_until``'s timeout for a documented behaviour: a broken promise, not a slow host."""
    return PromiseTimeout(what, timeout_s, last_error)  # the one factory (swarmcheck.errors)


def create_placed_service(
    client: SwarmClient,
    name: str,
    replicas: int | None = 1,
    *,
    mode: str = "replicated",
    concurrency: int | None = None,
    command: list[str] | None = None,
    constraints: list[str] | None = None,
    spread: list[str] | None = None,
    max_per_node: int | None = None,
    reserve_memory: int | None = None,
    restart_condition: str = "any",
    restart_delay_s: float = 0.5,
    version: str = "v1",
) -> str:
    """Create a service of the workload image with placement rules; return its id.

    ``mode`` is any Swarm mode (replicated, global, replicated-job, global-job); ``spread``
    lists node label keys for spread preferences (``node.labels.<key>``); ``max_per_node``
    is the per-node replica limit. Nothing waits here: callers wait for what they check.
    """
    swarm_mode = ServiceMode(
        mode, replicas=replicas if "replicated" in mode else None, concurrency=concurrency
    )
    options: dict[str, Any] = {
        "name": name,
        "command": command,
        "mode": swarm_mode,
        "restart_policy": RestartPolicy(
            condition=restart_condition, delay=int(restart_delay_s * NS)
        ),
        "stop_grace_period": STOP_GRACE_NS,
        "constraints": constraints,
        "preferences": [("spread", f"node.labels.{key}") for key in spread] if spread else None,
        "maxreplicas": max_per_node,
    }
    if reserve_memory is not None:
        options["resources"] = Resources(mem_reservation=reserve_memory)
    rules = "".join(
        f", {k} {v}"
        for k, v in (
            ("constraints", constraints),
            ("spread over", spread),
            ("at most per node", max_per_node),
            ("reserving bytes", reserve_memory),
        )
        if v
    )
    count = f"{replicas} replicas" if "replicated" in mode else "one per node"
    with step(f"create {mode} service {name}: {count}{rules} (via {client.node})"):
        with translated(client.node):
            service = client.docker.services.create(workload_image(version), **options)
        return str(service.id)


@dataclass(frozen=True)
class Placement:
    """Where a service's tasks are: per node name, as the managers say and as engines run."""

    by_node: dict[str, int]
    """Running tasks (desired running) per node name, from the managers' task list."""
    engines: dict[str, int]
    """Running task containers per node name, from each node's own engine."""
    pending: list[TaskInfo] = field(default_factory=list)
    """Tasks meant to run that are not running (pending, assigned, starting, ...)."""
    silent: frozenset[str] = frozenset()
    """Nodes whose engine did not answer (down): they run nothing."""

    @property
    def running(self) -> int:
        return sum(self.by_node.values())

    @property
    def agrees(self) -> bool:
        """The engines run exactly what the managers report, node by node."""
        nodes = set(self.by_node) | set(self.engines)
        return all(self.by_node.get(n, 0) == self.engines.get(n, 0) for n in nodes)

    def on(self, node: Node | str) -> int:
        return self.by_node.get(node if isinstance(node, str) else node.name, 0)

    def __str__(self) -> str:
        nodes = sorted(set(self.by_node) | set(self.engines))
        per_node = ", ".join(
            f"{n}={self.by_node.get(n, 0)}"
            + (
                ""
                if self.by_node.get(n, 0) == self.engines.get(n, 0)
                else f" (engine runs {self.engines.get(n, 0)})"
            )
            for n in nodes
        )
        pending = f"; {len(self.pending)} not running" if self.pending else ""
        silent = f"; no answer from {', '.join(sorted(self.silent))}" if self.silent else ""
        return f"{per_node or 'nothing running'}{pending}{silent}"


def engine_counts(cluster: Cluster, service_id: str) -> tuple[dict[str, int], set[str]]:
    """Running task containers of a service per node name, from each node's own engine, and
    the nodes whose engine did not answer (a node that is down runs nothing anyone can use)."""
    counts: dict[str, int] = {}
    silent: set[str] = set()
    label = f"com.docker.swarm.service.id={service_id}"
    for node in cluster.nodes:
        client = node.quick_client(ENGINE_LOOK_TIMEOUT_S)
        try:
            with translated(node.name):
                running = client.containers.list(filters={"label": label, "status": "running"})
            if running:
                counts[node.name] = len(running)
        except EngineUnreachable:
            silent.add(node.name)
        finally:
            client.close()
    return counts, silent


def observe(cluster: Cluster, client: SwarmClient, service: str) -> Placement:
    """One look at a service's placement: the managers' task list and every node's engine."""
    names = {info.id: info.hostname for info in cluster.node_list()}
    tasks = [t for t in client.tasks(service) if t.desired_state == "running"]
    by_node: Counter[str] = Counter(
        names.get(t.node_id, t.node_id) for t in tasks if t.state == "running"
    )
    engines, silent = engine_counts(cluster, client.service(service).id)
    return Placement(
        by_node=dict(by_node),
        engines=engines,
        pending=[t for t in tasks if t.state != "running"],
        silent=frozenset(silent),
    )


def wait_placement(
    cluster: Cluster,
    client: SwarmClient,
    service: str,
    running: int,
    *,
    pending: int = 0,
    also: Callable[[Placement], bool] | None = None,
    what: str = "",
    timeout_s: float = PLACEMENT_BUDGET_S,
) -> Placement:
    """Wait until exactly ``running`` tasks run (engines agreeing) and ``pending`` tasks wait,
    and ``also`` holds if given; a timeout is a broken promise (the last placement is named)."""
    last: list[Placement] = []

    def settled() -> Placement | None:
        seen = observe(cluster, client, service)
        last[:] = [seen]
        ok = seen.running == running and len(seen.pending) == pending and seen.agrees
        return seen if ok and (also is None or also(seen)) else None

    goal = what or f"{service} to run {running} tasks" + (
        f" with {pending} pending" if pending else ""
    )

    def broken(what_: str, timeout: float, last_error: str | None) -> PromiseTimeout:
        seen = str(last[0]) if last else "nothing"
        if last_error:
            seen += f" (last error: {last_error})"
        return PromiseTimeout(what_, timeout, seen)

    return wait_until(settled, what=goal, timeout_s=timeout_s, interval_s=0.3, timeout_error=broken)


def hold_placement(
    cluster: Cluster,
    client: SwarmClient,
    service: str,
    window_s: float,
    problem: Callable[[Placement], str | None],
) -> Placement:
    """``hold`` for one service's placement: ``problem(placement)`` must be None at every
    look for ``window_s``. Returns the last look."""
    last: list[Placement] = []

    def look() -> str | None:
        last[:] = [observe(cluster, client, service)]
        wrong = problem(last[0])
        return f"{wrong} (placement: {last[0]})" if wrong else None

    hold(window_s, look)
    return last[0]


def not_moved(
    client: SwarmClient, service: str, returned: Node
) -> Callable[[Placement], str | None]:
    """For ``hold_placement``: what is wrong when running tasks of ``service`` move to a node
    that came back, or are replaced while nothing changed (sch-no-rebalance)."""
    settled = {t.id for t in client.running_tasks(service)}

    def problem(p: Placement) -> str | None:
        if p.on(returned) or p.engines.get(returned.name):
            return f"running tasks were moved to {returned.name}, which came back"
        now = {t.id for t in client.running_tasks(service)}
        if now != settled:
            return f"running tasks were replaced while nothing changed: {settled ^ now}"
        return None

    return problem


def send_spec(client: SwarmClient, service_id: str, spec: dict[str, Any], version: int) -> None:
    """POST a whole service spec as an update of ``version`` (no defaults added, no merge)."""
    client.update_service_raw(service_id, version, spec)


def update_spec(
    client: SwarmClient, service: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Change a service the way the docker CLI does (``SwarmClient.update_spec``): read its
    stored spec, change only what ``change`` changes, send it back with the version read."""
    client.update_spec(service, change)


def engine_images(cluster: Cluster, service_id: str) -> Counter[str]:
    """The images of a service's running task containers, counted over every node's engine."""
    images: Counter[str] = Counter()
    label = f"com.docker.swarm.service.id={service_id}"
    for node in cluster.nodes:
        with translated(node.name):
            for container in node.client.containers.list(
                filters={"label": label, "status": "running"}
            ):
                images[str(container.attrs["Config"]["Image"]).split("@")[0]] += 1
    return images


def scale_service(client: SwarmClient, service: str, replicas: int) -> None:
    """`docker service scale service=replicas`: only the replica count changes."""

    def scale(spec: dict[str, Any]) -> None:
        spec["Mode"]["Replicated"]["Replicas"] = replicas

    with step(f"scale service {service} to {replicas} (via {client.node})"):
        update_spec(client, service, scale)


def force_update(client: SwarmClient, service: str) -> None:
    """`docker service update --force`: replace every task although the spec is unchanged
    (for a job: run it again)."""

    def force(spec: dict[str, Any]) -> None:
        template = spec["TaskTemplate"]
        template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1

    with step(f"force update service {service} (via {client.node})"):
        update_spec(client, service, force)


def join_worker(cluster: Cluster, node: Node, availability: str | None = None) -> str:
    """Join ``node`` (out of the swarm) as a worker through the leader, optionally with an
    initial availability; wait until the managers list it ready; return its new node id.

    docker-py's ``join`` has no availability argument, so the Engine API call is made directly.
    """
    leader = cluster.leader()
    lead = cluster.client(leader)
    body: dict[str, Any] = {
        "ListenAddr": f"0.0.0.0:{SWARM_PORT}",
        "AdvertiseAddr": f"{node.ip}:{SWARM_PORT}",
        "DataPathAddr": node.ip,
        "RemoteAddrs": [f"{leader.ip}:{SWARM_PORT}"],
        "JoinToken": lead.join_tokens()["worker"],
    }
    if availability:
        body["Availability"] = availability
    api = node.client.api
    title = f"join {node.name} as a worker" + (f" ({availability})" if availability else "")
    with step(title), translated(node.name):
        api._raise_for_status(api._post_json(api._url("/swarm/join"), data=body))
        new_id = str(node.client.info()["Swarm"]["NodeID"])

    def ready() -> bool | None:
        return True if any(i.id == new_id and i.state == "ready" for i in lead.nodes()) else None

    wait_until(
        ready,
        what=f"{node.name} to show as ready after joining",
        timeout_s=30,
        timeout_error=promise_timeout,
    )
    node.node_id = new_id
    return new_id


def leave_and_remove(cluster: Cluster, node: Node) -> None:
    """Make a worker leave the swarm, wait until the managers see it down, remove its entry."""
    lead = cluster.leader_client()
    old_id = node.node_id
    cluster.client(node).leave(force=True)

    def state() -> str | None:
        return next((i.state for i in lead.nodes() if i.id == old_id), None)

    wait_until(
        lambda: True if state() in (None, "down") else None,
        what=f"{node.name} to show as down after leaving",
        timeout_s=30,
        timeout_error=promise_timeout,
    )
    if state() is not None:
        lead.remove_node(old_id)


def ensure_worker(cluster: Cluster, node: Node) -> None:
    """Put a worker that a check took out of the swarm back in (for a ``finally``): leave
    whatever state it is in, drop its stale entries from the node list, join again."""
    lead = cluster.leader_client()
    listed = [i for i in lead.nodes() if i.hostname == node.name]
    if any(i.id == node.node_id and i.state == "ready" for i in listed) and len(listed) == 1:
        return
    with contextlib.suppress(EngineAPIError):
        cluster.client(node).leave(force=True)
    for info in listed:
        lead.remove_node(info.id, force=True)
    join_worker(cluster, node)
