"""Target selection: roles, quorum sizes, determinism and helpful errors."""

from __future__ import annotations

import random

import pytest

from swarmcheck.errors import ConfigError
from swarmcheck.faults.targets import NodeView, Target, parse_target, select


def cluster(managers: int = 3, workers: int = 2) -> tuple[NodeView, ...]:
    nodes = [NodeView(f"m{i}", "manager", leader=i == 1) for i in range(1, managers + 1)]
    nodes += [
        NodeView(f"w{i}", "worker", leader=False, task_ids=frozenset({f"t{i}"}))
        for i in range(1, workers + 1)
    ]
    return tuple(nodes)


def test_roles() -> None:
    nodes, rng = cluster(), random.Random(1)
    assert select("leader", nodes, rng) == ("m1",)
    assert select("follower", nodes, rng)[0] in {"m2", "m3"}
    assert select("worker", nodes, rng)[0] in {"w1", "w2"}
    assert select("manager", nodes, rng)[0] in {"m1", "m2", "m3"}
    assert select("task:t2", nodes, rng) == ("w2",)
    assert select("task", nodes, rng)[0] in {"w1", "w2"}
    assert select("all", nodes, rng) == ("m1", "m2", "m3", "w1", "w2")


@pytest.mark.parametrize(("managers", "minority", "majority"), [(3, 1, 2), (5, 2, 3), (7, 3, 4)])
def test_quorum_sizes(managers: int, minority: int, majority: int) -> None:
    nodes = cluster(managers, 0)
    picked = select("minority", nodes, random.Random(0))
    assert len(picked) == minority and all(n.startswith("m") for n in picked)
    assert len(select("majority", nodes, random.Random(0))) == majority


def test_deterministic_given_rng_and_independent_of_input_order() -> None:
    nodes = cluster(7, 3)
    a = [select("minority", nodes, random.Random(s)) for s in range(20)]
    b = [select("minority", tuple(reversed(nodes)), random.Random(s)) for s in range(20)]
    assert a == b and len(set(a)) > 1


def test_unreachable_nodes_are_not_candidates() -> None:
    nodes = (*cluster(3, 0)[:2], NodeView("m3", "manager", leader=False, reachable=False))
    assert select("follower", nodes, random.Random(0)) == ("m2",)


def test_no_match_explains_cluster() -> None:
    with pytest.raises(ConfigError, match=r"3 managers and 0 workers.*--swarm-workers"):
        select("worker", cluster(3, 0), random.Random(0))
    with pytest.raises(ConfigError, match="minority of 1 managers is empty"):
        select("minority", cluster(1, 0), random.Random(0))
    with pytest.raises(ConfigError, match="'task:nope' matches no node"):
        select("task:nope", cluster(), random.Random(0))


def test_parse_target() -> None:
    assert parse_target(" leader ") == Target("leader")
    assert str(parse_target("task:abc")) == "task:abc"
    with pytest.raises(ConfigError, match=r"unknown fault target 'lead'; valid targets: leader"):
        parse_target("lead")
    with pytest.raises(ConfigError, match="empty task id"):
        parse_target("task:")
