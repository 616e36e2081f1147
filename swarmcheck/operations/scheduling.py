"""Where a service's tasks run: as the managers place them and as the node engines run them.

Scheduling and node-management checks create services with placement rules (constraints,
spread preferences, a per-node maximum, modes other than replicated), wait for the placement
to settle, and compare what the managers report with the task containers each node's own
engine runs: a placement only counts when both agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmcheck.client.specs import RestartPolicy
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineUnreachable, PromiseTimeout
from swarmcheck.machine.images import workload_image
from swarmcheck.steps import step
from swarmcheck.timing import hold, wait_until

PLACEMENT_BUDGET_S = 30.0
"""moby's defaultReconciliationTimeout (integration-cli): the budget for a placement to settle."""
ENGINE_LOOK_TIMEOUT_S = 3.0
"""A look at one engine gives up after this (a stopped or frozen node must not stall a wait)."""
STOP_GRACE_S = 1.0
"""Tasks that move stop within a second (the workload does not need the default 10 s)."""


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
    return client.create(
        name,
        workload_image(version),
        replicas=replicas,
        mode=mode,
        concurrency=concurrency,
        command=command,
        restart=RestartPolicy(restart_condition, delay_s=restart_delay_s),
        stop_grace_s=STOP_GRACE_S,
        constraints=constraints,
        spread=spread,
        max_per_node=max_per_node,
        reserve_memory=reserve_memory,
        title=f"create {mode} service {name}: {count}{rules}",
    )


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
    for node in cluster.nodes:
        try:
            with node.engine(ENGINE_LOOK_TIMEOUT_S) as engine:
                running = engine.task_containers(service_id=service_id)
        except EngineUnreachable:
            silent.add(node.name)
            continue
        if running:
            counts[node.name] = len(running)
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
