"""Swarm events: what managers report about services, nodes, networks, secrets and configs,
and that workers report none of it.

Each check records the time, acts, then reads `docker events --since T --until now`
(``NodeEngine.events``) from the nodes it is about.
Events can lag the change by a moment: moby's tests retry 10 x 200 ms, so do these.

Shapes: the default cluster (3 managers) for service and object events; 3 managers + 1 worker
(``swarm(workers=1)``) for node events and for what a worker reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from swarmcheck.api import (
    Swarm,
    SwarmClient,
    SwarmNode,
    create_placed_service,
    deploy_web,
    ensure_worker,
    join_worker,
    leave_and_remove,
    promise_timeout,
    scale_service,
    update_spec,
    wait_placement,
    wait_until,
    workload_image,
)

EVENTS = "https://docs.docker.com/reference/cli/docker/system/events/"
EVENT_LAG_S = 2.0
"""moby's event tests retry 10 x 200 ms."""
Event = dict[str, Any]
DRAINED = {"availability.new": "drain", "availability.old": "active"}
ACTIVATED = {"availability.new": "active", "availability.old": "drain"}


def read_events(
    node: SwarmNode, since_ns: int, filters: dict[str, Any] | None = None
) -> list[Event]:
    """The events ``node``'s engine reports from ``since_ns`` until now (a finite read)."""
    return node.engine().events(since_ns, time.time_ns(), filters)


def wait_events(
    node: SwarmNode,
    since_ns: int,
    filters: dict[str, Any] | None,
    complete: Callable[[list[Event]], bool],
    what: str,
) -> list[Event]:
    """Read events until ``complete(events)``; a miss after moby's retry budget is broken."""

    def look() -> list[Event] | None:
        got = read_events(node, since_ns, filters)
        return got if complete(got) else None

    return wait_until(
        look,
        what=f"{node.name} to report {what}",
        timeout_s=EVENT_LAG_S,
        interval_s=0.2,
        timeout_error=promise_timeout,
    )


def matching(events: Iterable[Event], kind: str, action: str, **attrs: str) -> list[Event]:
    """Events of ``kind``/``action`` whose actor attributes include ``attrs``."""
    return [
        e
        for e in events
        if e.get("Type") == kind
        and e.get("Action") == action
        and all(e.get("Actor", {}).get("Attributes", {}).get(k) == v for k, v in attrs.items())
    ]


def in_order(events: list[Event], steps: list[tuple[str, str, dict[str, str]]]) -> bool:
    """``steps`` (type, action, attributes) occur in this order in ``events`` (others may
    come between)."""
    remaining = iter(events)  # shared: each step is looked for after the previous one
    return all(
        any(matching([e], kind, action, **attrs) for e in remaining)
        for kind, action, attrs in steps
    )


def _describe(events: list[Event]) -> str:
    return "; ".join(
        f"{e.get('Type')} {e.get('Action')} {e.get('Actor', {}).get('Attributes', {})}"
        for e in events
    )


@pytest.mark.swarmcheck(
    id="SC-EVT-001",
    area="events",
    doc=f"{EVENTS}#object-types",
    title="service create, scale (replicas), rolling update (updatestate) and remove events, "
    "in order, on every manager",
    promise="Every manager MUST report swarm-scoped service events: create, update with "
    "replicas.new/old on scaling, update with updatestate.new updating then completed on a "
    "rolling update, and remove, in that order.",
    rows=("svc-events",),
    needs=(),
    effects=("writes",),
)
def test_service_events(swarm_cluster: Swarm) -> None:
    since = time.time_ns()
    lead = deploy_web(swarm_cluster, "ev", 1, update_parallelism=0)
    scale_service(lead, "ev", 2)
    wait_placement(swarm_cluster, lead, "ev", 2)

    def to_v2(spec: dict[str, Any]) -> None:
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = workload_image("v2")

    update_spec(lead, "ev", to_v2)
    wait_until(
        lambda: True if lead.update_state("ev") == "completed" else None,
        what="the rolling update of ev to complete",
        timeout_s=60,
        timeout_error=promise_timeout,
    )
    lead.remove_service("ev")
    steps = [
        ("service", "create", {"name": "ev"}),
        ("service", "update", {"name": "ev", "replicas.new": "2", "replicas.old": "1"}),
        ("service", "update", {"name": "ev", "updatestate.new": "updating"}),
        (
            "service",
            "update",
            {"name": "ev", "updatestate.new": "completed", "updatestate.old": "updating"},
        ),
        ("service", "remove", {"name": "ev"}),
    ]
    for manager in swarm_cluster.managers:
        seen = wait_events(
            manager,
            since,
            {"scope": "swarm", "type": "service"},
            lambda got: in_order(got, steps),
            "create, scale, update (updating, completed) and remove of service ev",
        )
        assert all(e.get("scope") == "swarm" for e in seen), _describe(seen)


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-EVT-002",
    area="events",
    doc=f"{EVENTS}#object-types",
    title="node update (availability.new/old), remove and create events",
    promise="Managers MUST report swarm-scoped node events: update with availability.new and "
    "availability.old when availability changes, remove when a node is removed and create "
    "when a node joins.",
    rows=("svc-events",),
    needs=(),
    effects=("roles", "membership"),
)
def test_node_events(swarm_cluster: Swarm) -> None:
    worker = swarm_cluster.workers[0]
    lead_node = swarm_cluster.leader()
    lead = swarm_cluster.client(lead_node)
    since = time.time_ns()
    old_id = worker.node_id
    lead.update_node(old_id, availability="drain")
    lead.update_node(old_id, availability="active")
    try:
        leave_and_remove(swarm_cluster, worker)
        new_id = join_worker(swarm_cluster, worker)
    finally:
        ensure_worker(swarm_cluster, worker)

    def complete(got: list[Event]) -> bool:
        drained = matching(got, "node", "update", **DRAINED)
        active = matching(got, "node", "update", **ACTIVATED)
        removed = [e for e in matching(got, "node", "remove") if e["Actor"]["ID"] == old_id]
        created = [e for e in matching(got, "node", "create") if e["Actor"]["ID"] == new_id]
        return all((drained, active, removed, created)) and in_order(
            got,
            [
                ("node", "update", DRAINED),
                ("node", "update", ACTIVATED),
                ("node", "remove", {}),
                ("node", "create", {}),
            ],
        )

    seen = wait_events(
        lead_node,
        since,
        {"scope": "swarm", "type": "node"},
        complete,
        f"{worker.name} drained, activated, removed and joined again",
    )
    assert all(e["Actor"]["ID"] in (old_id, new_id) for e in seen), _describe(seen)


@pytest.mark.swarmcheck(
    id="SC-EVT-003",
    area="events",
    doc=f"{EVENTS}#object-types",
    title="network, secret and config create and remove events",
    promise="Managers MUST report swarm-scoped create and remove events for overlay networks, "
    "secrets and configs, naming the object.",
    rows=("svc-events",),
    needs=(),
    effects=("writes",),
)
def test_object_events(swarm_cluster: Swarm) -> None:
    lead_node = swarm_cluster.leader()
    client = swarm_cluster.client(lead_node)
    since = time.time_ns()
    made: list[tuple[str, str, str]] = [
        ("network", "ev-net", client.networks.create("ev-net", attachable=None)),
        ("secret", "ev-secret", client.secrets.create("ev-secret", b"s")),
        ("config", "ev-config", client.configs.create("ev-config", b"c")),
    ]
    client.networks.remove(made[0][2])
    client.secrets.remove(made[1][2])
    client.configs.remove(made[2][2])

    def complete(got: list[Event]) -> bool:
        return all(
            in_order(got, [(kind, "create", {"name": name}), (kind, "remove", {"name": name})])
            for kind, name, _ in made
        )

    seen = wait_events(
        lead_node,
        since,
        {"scope": "swarm"},
        complete,
        "create and remove of a network, a secret and a config",
    )
    for kind, name, made_id in made:
        ids = {e["Actor"]["ID"] for e in matching(seen, kind, "create", name=name)}
        assert ids == {made_id}, f"{kind} {name}: events name {ids}, the object is {made_id}"


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-EVT-004",
    area="events",
    doc=f"{EVENTS}#filter",
    title="a worker reports no swarm-scoped events; scope=local excludes them on a manager",
    promise="A worker MUST NOT report swarm-scoped events (only its local ones), and a "
    "manager's events filtered on scope=local MUST NOT include swarm-scoped events.",
    rows=("svc-events",),
    needs=(),
    effects=("writes",),
)
def test_worker_reports_no_swarm_events(swarm_cluster: Swarm) -> None:
    worker = swarm_cluster.workers[0]
    lead_node = swarm_cluster.leader()
    lead: SwarmClient = swarm_cluster.client(lead_node)
    since = time.time_ns()
    # A service whose task runs on the worker: its engine has local events in the window.
    create_placed_service(lead, "on-worker", 1, constraints=["node.role==worker"])
    wait_placement(swarm_cluster, lead, "on-worker", 1, also=lambda p: p.on(worker) == 1)
    lead.remove_service("on-worker")
    wait_events(
        lead_node,
        since,
        {"scope": "swarm", "type": "service"},
        lambda got: bool(matching(got, "service", "remove", name="on-worker")),
        "the create and remove of service on-worker",
    )
    local = wait_events(
        worker,
        since,
        None,
        lambda got: bool(matching(got, "container", "start")),
        "the start of the task container it ran",
    )
    not_local = [e for e in local if e.get("scope") != "local"]
    assert not not_local, f"the worker reported non-local events: {_describe(not_local)}"
    on_worker = read_events(worker, since, {"scope": "swarm"})
    assert not on_worker, f"the worker reported swarm-scoped events: {_describe(on_worker)}"
    local_on_manager = read_events(lead_node, since, {"scope": "local"})
    swarm_scoped = [e for e in local_on_manager if e.get("scope") != "local"]
    assert not swarm_scoped, f"scope=local let swarm events through: {_describe(swarm_scoped)}"
    assert not [e for e in local_on_manager if e.get("Type") in ("service", "node")]
