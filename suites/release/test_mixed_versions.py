"""Mixed-version swarms: Swarm's promises while nodes run two engine versions, as they do in
the middle of every real upgrade.

"old" is the engine upgraded from (``--swarm-upgrade-from``, by default the Debian suite
before the engine under test), "new" the engine under test. The versions are read from the
engines themselves; a check whose swarm does not mix two versions skips and says so.

Shape: 3 managers (old, new, old) and 2 workers (new, old): manager1 (old) initialises the
swarm, a new manager and a new worker join an old leader, old nodes join beside new ones.
"""

from __future__ import annotations

import pytest

from suites import budgets
from suites.conftest import RollingJudge
from swarmcheck.api import (
    Placement,
    Recorder,
    Stopwatch,
    Swarm,
    by_version,
    create_placed_service,
    deploy_web,
    ensure_worker,
    join_via,
    leave_and_remove,
    observe,
    own_versions,
    promise_timeout,
    running_images,
    version_problems,
    wait_converged,
    wait_placement,
    wait_until,
    wait_views_agree,
    wait_write_accepted,
    watched_rolling_update,
    workload_image,
)

UPGRADE_DOC = "https://docs.docker.com/engine/swarm/admin_guide/"
JOIN_DOC = "https://docs.docker.com/engine/swarm/join-nodes/"
SCHEDULING_DOC = "https://docs.docker.com/engine/swarm/services/#placement-constraints"
UPDATE_DOC = "https://docs.docker.com/engine/swarm/swarm-tutorial/rolling-update/"
RAFT_DOC = "https://docs.docker.com/engine/swarm/raft/"

ENGINES = ("old", "new", "old", "new", "old")
"""manager1..3, worker1..2: one engine each."""
MIXED = pytest.mark.swarm(managers=3, workers=2, engines=ENGINES)
LABEL = "release.engine"
UPDATE_BATCH_BUDGET_S = 30.0
"""upd-start-first: 30 s per batch (moby)."""


def three_managers(*engines: str) -> pytest.MarkDecorator:
    """Three managers of these engines; the leader is stopped (stop-nodes)."""
    return pytest.mark.swarm(managers=3, workers=0, engines=engines, capabilities=("stop-nodes",))


def versions_or_skip(swarm_cluster: Swarm) -> dict[str, str]:
    """Each node's engine version (from the engine); skip when they are all one version."""
    versions = own_versions(swarm_cluster)
    groups = by_version(versions)
    if len(groups) < 2:
        pytest.skip(
            f"every node runs Docker {next(iter(groups))}: the old and new engines are one "
            "version, so nothing mixes (give another --swarm-upgrade-from)"
        )
    return versions


def engine_parts(swarm_cluster: Swarm) -> dict[str, str]:
    """SwarmNode name -> 'old' or 'new', as the swarm marker placed them."""
    return dict(zip(swarm_cluster.names(), ENGINES, strict=True))


@MIXED
@pytest.mark.swarmcheck(
    id="SC-REL-001",
    area="release",
    doc=JOIN_DOC,
    title="nodes of two engine versions join one swarm, through managers of either version",
    promise="Nodes running an older and a newer engine MUST join one swarm through a manager of "
    "either version and be listed Ready, with their own engine version, by every manager.",
    rows=("mem-join-worker", "mem-join-manager"),
    effects=("membership",),
)
def test_nodes_of_both_versions_join(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    versions = versions_or_skip(swarm_cluster)
    parts = engine_parts(swarm_cluster)
    swarm_figure("engines", " / ".join(by_version(versions)))
    # Formed by an old manager: a new manager and a new worker joined an old leader.
    wait_views_agree(swarm_cluster, versions)
    old_manager, new_manager = swarm_cluster.managers[0], swarm_cluster.managers[1]
    assert (parts[old_manager.name], parts[new_manager.name]) == ("old", "new")
    clock = Stopwatch()
    for worker in swarm_cluster.workers:
        # the new worker joins again through the old manager, the old one through the new
        via = old_manager if parts[worker.name] == "new" else new_manager
        try:
            leave_and_remove(swarm_cluster, worker)
            join_via(swarm_cluster, worker, via, "worker")
        finally:
            ensure_worker(swarm_cluster, worker)
    swarm_figure("rejoins_s", clock())
    wait_views_agree(swarm_cluster, versions)
    assert not version_problems(swarm_cluster, versions)


@MIXED
@pytest.mark.swarmcheck(
    id="SC-REL-002",
    area="release",
    doc=SCHEDULING_DOC,
    title="tasks run on the nodes of both engine versions: global, and constrained to each",
    promise="The scheduler MUST place tasks on nodes of every engine version in a mixed swarm: "
    "a global service on every node and a constrained service only on the nodes it names.",
    rows=("svc-global", "sch-constraint-label"),
    effects=("writes", "roles"),
)
def test_tasks_run_on_both_versions(swarm_cluster: Swarm) -> None:
    versions = versions_or_skip(swarm_cluster)
    parts = engine_parts(swarm_cluster)
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "everywhere", mode="global")
    wait_placement(
        swarm_cluster,
        lead,
        "everywhere",
        running=len(swarm_cluster.nodes),
        also=lambda p: all(p.engines.get(n) == 1 for n in swarm_cluster.names()),
        what="a global service to run one task on every node of both versions",
    )
    for node in swarm_cluster.nodes:
        lead.update_node(node.node_id, node_labels={LABEL: parts[node.name]})
    for part in ("old", "new"):
        mine = {n for n, p in parts.items() if p == part}
        replicas = len(mine) + 1

        def only_mine(p: Placement, mine: set[str] = mine) -> bool:
            used = {n for n, count in p.engines.items() if count}
            return used <= mine and len(used) == len(mine)

        service = f"on-{part}"
        create_placed_service(lead, service, replicas, constraints=[f"node.labels.{LABEL}=={part}"])
        placement = wait_placement(
            swarm_cluster,
            lead,
            service,
            running=replicas,
            also=only_mine,
            what=f"{service} to run {replicas} tasks on the {part} engine's nodes only "
            f"({', '.join(sorted(mine))})",
        )
        seen_versions = {versions[n] for n, count in placement.engines.items() if count}
        assert len(seen_versions) == 1, f"{service} ran on engines {seen_versions}"


@MIXED
@pytest.mark.swarmcheck(
    id="SC-REL-003",
    area="release",
    doc=UPDATE_DOC,
    title="a start-first rolling update across nodes of two engine versions keeps answering "
    "and keeps start-first order on both",
    promise="A start-first rolling update of a service whose tasks run on nodes of two engine "
    "versions MUST keep it answering, start every new task before its old one stops (per the "
    "managers and the engines) and end with every task on the new image on both.",
    rows=("upd-start-first",),
    effects=("writes",),
)
def test_rolling_update_across_versions(
    swarm_cluster: Swarm, swarm_figure: Recorder, judge_rolling: RollingJudge
) -> None:
    versions = versions_or_skip(swarm_cluster)
    replicas = len(swarm_cluster.nodes)  # the spread strategy puts one task on each node
    # Judged like SC-UPD-001: the probe's answers and the task order, sampled on the managers
    # and the engines (never fewer than N healthy, each new task running before its old one
    # stops), not the probe alone.
    run = watched_rolling_update(
        swarm_cluster, swarm_figure, replicas=replicas, order="start-first"
    )
    judge_rolling(run, f"web v1 -> v2 over {replicas} nodes of two engine versions")
    lead = swarm_cluster.leader_client()
    service_id = lead.service("web").id
    wanted = {workload_image("v2"): replicas}
    # the replaced v1 containers stop within the stop grace period once their tasks shut down
    wait_until(
        lambda: True if running_images(swarm_cluster, service_id=service_id) == wanted else None,
        what=f"the engines to run exactly {replicas} web containers, all on v2",
        timeout_s=UPDATE_BATCH_BUDGET_S,
        timeout_error=promise_timeout,
    )
    placement = observe(swarm_cluster, lead, "web")
    on = {versions[n] for n, count in placement.engines.items() if count}
    assert on == set(versions.values()), f"v2 tasks run on engines {on} only: {placement}"


@pytest.mark.swarmcheck(
    id="SC-REL-004",
    area="release",
    doc=RAFT_DOC,
    title="when the leader stops, managers of the other engine version elect a leader; writes "
    "resume and the old leader rejoins as a follower",
    promise="When the leader of a three-manager mixed-version swarm stops, the managers of the "
    "other engine version MUST elect a new leader that accepts writes.",
    rows=("raft-failover",),
    effects=("writes", "stops", "leadership"),
)
@pytest.mark.parametrize(
    "direction",
    [
        pytest.param("old-to-new", marks=three_managers("old", "new", "new")),
        pytest.param("new-to-old", marks=three_managers("new", "old", "old")),
    ],
)
def test_leader_failover_across_versions(
    swarm_fresh_cluster: Swarm, direction: str, swarm_figure: Recorder
) -> None:
    cluster = swarm_fresh_cluster
    versions = versions_or_skip(cluster)
    old_leader = cluster.leader()
    assert old_leader is cluster.managers[0], "manager1 initialised the swarm and leads it"
    followers = {versions[m.name] for m in cluster.managers[1:]}
    assert followers == set(versions.values()) - {versions[old_leader.name]}
    deploy_web(cluster, "web", 2)
    clock = Stopwatch()
    old_leader.stop(timeout_s=0)
    new_leader = cluster.wait_leader(timeout_s=budgets.ELECTION_S, exclude=old_leader.name)
    swarm_figure("failover_s", clock())
    assert versions[new_leader.name] != versions[old_leader.name]
    survivor = cluster.client(new_leader)
    wait_write_accepted(survivor, "web", 4, timeout_s=budgets.WRITE_AFTER_ELECTION_S)
    swarm_figure("writes_accepted_s", clock())
    wait_converged(survivor, "web", 4)
    clock = Stopwatch()
    old_leader.start()
    old_leader.wait_engine()
    wait_views_agree(cluster, versions)
    swarm_figure("old_leader_back_s", clock())
    assert cluster.leader().name == new_leader.name, "the returning manager took the lead"
