"""The FaultKind registry: every kind can be planned and built, parameters match what is
declared, and the runner compares what ran with what was planned.

Building happens against a cluster whose views (node list, leader, tasks) are canned: no
engine is asked, and a built fault is never started.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from swarmcheck.client.swarm import NodeInfo, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.controlplane import ControlPlaneProxy, plan_routes
from swarmcheck.cluster.node import Node
from swarmcheck.errors import ConfigError, FaultError
from swarmcheck.faults.base import FaultLog, FaultWindow
from swarmcheck.faults.kinds import FAULT_KINDS, KINDS, fault_kind
from swarmcheck.faults.runner import PlayedFault, assert_played, build_fault, check_played
from swarmcheck.faults.schedule import PlannedFault, Schedule, plan_schedule
from swarmcheck.faults.targets import parse_target
from swarmcheck.spec import ClusterSpec

SUBNET = "10.199.250.0/24"


class CannedSwarm:
    """What the runner asks a SwarmClient: the service's running tasks."""

    def __init__(self, tasks: list[TaskInfo]) -> None:
        self.tasks = tasks

    def running_tasks(self, service: str) -> list[TaskInfo]:
        return [t for t in self.tasks if t.service == service]


class CannedCluster(Cluster):
    """Three managers (manager1 leads) and a worker; one task of `web` on manager2 and worker1.
    Views come from memory, so nothing here talks to an engine."""

    def __init__(self, proxied: bool = True) -> None:
        super().__init__(spec=ClusterSpec(managers=3, workers=1), run_id="unit", host=None)  # type: ignore[arg-type]
        self.subnet = SUBNET
        for index, name in enumerate(self.spec.node_names()):
            role = "manager" if name.startswith("manager") else "worker"
            node = Node(
                name=name,
                role=role,
                container_name=f"sc-unit-{name}",
                ip=f"10.199.250.{10 + index}",
                api_socket=f"/nonexistent/sc-unit/{name}.sock",
                host=None,  # type: ignore[arg-type]
            )
            node.node_id = f"id-{name}"
            self.nodes.append(node)
        if proxied:
            proxy = ControlPlaneProxy("sc-unit-toxiproxy", "10.199.250.5")
            proxy.routes = plan_routes(SUBNET, [(n.name, n.ip) for n in self.managers])
            self.control_plane = proxy
            self.advertise_addr = proxy.advertise_addr
        self.tasks = [_task("task-m2", "id-manager2", 1), _task("task-w1", "id-worker1", 2)]

    def node_list(self, via: Node | None = None, timeout_s: float = 5.0) -> list[NodeInfo]:
        return [
            NodeInfo(
                id=n.node_id,
                hostname=n.name,
                role=n.role,
                availability="active",
                state="ready",
                leader=n.name == "manager1",
                reachability="reachable" if n.role == "manager" else None,
                manager_addr=None,
            )
            for n in self.nodes
        ]

    def leader(self, timeout_s: float = 5.0) -> Node:
        return self.node("manager1")

    def wait_leader(self, timeout_s: float = 60.0, exclude: str | None = None) -> Node:
        return self.leader()

    def client(self, node: Node | str) -> Any:
        return CannedSwarm(self.tasks)


def _task(task_id: str, node_id: str, slot: int) -> TaskInfo:
    return TaskInfo(
        id=task_id,
        service="web",
        slot=slot,
        node_id=node_id,
        state="running",
        desired_state="running",
        container_id=f"container-{task_id}",
        image="swarmcheck/workload:v1",
        error=None,
        timestamp="",
    )


@pytest.mark.parametrize("name", FAULT_KINDS)
def test_every_kind_can_be_planned_and_built(name: str) -> None:
    schedule = plan_schedule(3, 600, [name])
    assert schedule.faults and {f.kind for f in schedule.faults} == {name}
    cluster, log, rng = CannedCluster(), FaultLog(), random.Random(schedule.seed)
    for planned in schedule.faults:
        fault = build_fault(cluster, planned, rng, log, service="web")
        assert fault.kind == name, "the fault log must name the kind the schedule planned"
        assert fault.targets and set(fault.targets) <= set(cluster.names())
        assert not fault.active
    assert len(log) == 0, "building a fault must not start it"


@pytest.mark.parametrize("name", FAULT_KINDS)
def test_drawn_parameters_are_the_declared_ones(name: str) -> None:
    kind = KINDS[name]
    for seed in range(50):
        assert tuple(kind.draw(random.Random(seed))) == kind.params
    for target in kind.targets:
        parse_target(target)


def test_kinds_that_need_the_proxy_or_a_service_say_so() -> None:
    plain = CannedCluster(proxied=False)
    latency = PlannedFault(0, 1, "latency", "leader", {"latency_ms": 100, "jitter_ms": 0})
    with pytest.raises(ConfigError, match=r"swarm\(faults=True\)"):
        build_fault(plain, latency, random.Random(1), FaultLog(), "web")
    kill = PlannedFault(0, 1, "kill_task", "task", {})
    with pytest.raises(ConfigError, match="needs a service"):
        build_fault(plain, kill, random.Random(1), FaultLog(), None)
    with pytest.raises(ConfigError, match="unknown fault kind 'nuke'; valid kinds: latency"):
        fault_kind("nuke")


def test_kill_task_acts_on_the_selected_task() -> None:
    cluster = CannedCluster()
    planned = PlannedFault(0, 1, "kill_task", "task:task-w1", {})
    fault = build_fault(cluster, planned, random.Random(1), FaultLog(), "web")
    assert fault.targets == ("worker1",)
    assert fault.params["task_id"] == "task-w1"


@pytest.mark.parametrize(("direction", "src", "dst"), [("outbound", 0, 1), ("inbound", 1, 0)])
def test_one_way_follows_the_planned_direction(direction: str, src: int, dst: int) -> None:
    cluster = CannedCluster()
    planned = PlannedFault(0, 1, "partition_oneway", "follower", {"direction": direction})
    fault = build_fault(cluster, planned, random.Random(1), FaultLog(), None)
    victim = next(t for t in fault.targets if t != "manager1")
    pair = (victim, "manager1")  # a follower and the leader
    assert (fault.params["src"], fault.params["dst"]) == (pair[src], pair[dst])


def test_a_planned_parameter_missing_is_named() -> None:
    planned = PlannedFault(0, 1, "bandwidth", "leader", {})
    with pytest.raises(ConfigError, match="bandwidth fault has no parameter 'rate_kb'"):
        build_fault(CannedCluster(), planned, random.Random(1), FaultLog(), None)


# -- what ran against what was planned -------------------------------------------------------
def _window(kind: str, error: str | None = None) -> FaultWindow:
    return FaultWindow(kind, ("manager2",), 1.0, 2.0, error=error)


def _schedule(*kinds: str) -> Schedule:
    faults = tuple(PlannedFault(10.0 * i, 5, k, "follower", {}) for i, k in enumerate(kinds))
    return Schedule(1, 100, faults)


def test_played_as_planned_passes() -> None:
    schedule = _schedule("kill_node", "pause_node")
    played = [PlayedFault(i, f, fault=f"{f.kind}(x)") for i, f in enumerate(schedule.faults, 1)]
    windows = [_window("kill_node"), _window("pause_node")]
    assert check_played(schedule, played, windows) == []
    assert_played(schedule, played, windows)


def test_a_fault_that_could_not_be_built_fails_the_comparison() -> None:
    schedule = _schedule("kill_node", "pause_node")
    played = [
        PlayedFault(1, schedule.faults[0], fault="kill_node(manager2)"),
        PlayedFault(2, schedule.faults[1], error="target 'follower' matches no node"),
    ]
    problems = check_played(schedule, played, [_window("kill_node")])
    assert problems[0] == (
        "fault 2 (pause_node on follower) did not run: target 'follower' matches no node"
    )
    assert "faults planned ['kill_node', 'pause_node'], faults that ran ['kill_node']" in problems
    with pytest.raises(FaultError, match="was not played as planned"):
        assert_played(schedule, played, [_window("kill_node")])


def test_a_fault_that_failed_to_heal_fails_the_comparison() -> None:
    schedule = _schedule("kill_node")
    played = [PlayedFault(1, schedule.faults[0], fault="kill_node(manager2)")]
    problems = check_played(schedule, played, [_window("kill_node", "FaultError: boom")])
    assert problems == ["kill_node(manager2) failed: FaultError: boom"]
