"""A rolling engine upgrade under load: every node of a swarm on the older engine is upgraded
to the engine under test, one at a time, while a client keeps using a service.

As an operator does it: drain the node, stop its engine, start the new engine on the same
disk (/var/lib/docker), address and name, wait until the node is back Ready, make it active
again, next node (managers first, the leader last, then workers). The client is the DNS-RR
probe, moved off each node before that node is drained.
"""

from __future__ import annotations

import pytest

from swarmcheck.api import (
    PlotAttacher,
    Recorder,
    Settings,
    Swarm,
    check_availability,
    listed_by,
    own_versions,
    rolling_engine_upgrade,
    version_problems,
    wait_converged,
    workload_image,
)

ADMIN_GUIDE = "https://docs.docker.com/engine/swarm/admin_guide/"


@pytest.mark.swarm(managers=3, workers=2, engines=("old",) * 5, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-REL-005",
    area="release",
    doc=ADMIN_GUIDE,
    title="a rolling engine upgrade, node by node (drain, new engine on the same disk, back, "
    "active), keeps a service answering and every node's identity",
    promise="Upgrading every node's engine one at a time, each drained first and restarted on "
    "its own data, MUST keep a replicated service answering and each node's ID and role.",
    rows=("mem-restart-persist", "node-drain"),
    effects=("writes", "roles", "stops", "leadership"),
)
def test_rolling_engine_upgrade_under_load(
    swarm_fresh_cluster: Swarm,
    swarm_settings: Settings,
    swarm_figure: Recorder,
    swarm_attach_availability: PlotAttacher,
) -> None:
    cluster = swarm_fresh_cluster
    before = own_versions(cluster)
    new_engine = swarm_settings.cluster.engine
    image = cluster.engine_image(new_engine)
    old_image = cluster.prepared_image(cluster.spec.node_engines()[0])
    if image == old_image:
        pytest.skip(f"the old and new engines are one image ({image}): nothing to upgrade")
    identities = {i.hostname: (i.id, i.role) for i in listed_by(cluster.managers[0])}
    swarm_figure("from", " / ".join(sorted(set(before.values()))))

    run = rolling_engine_upgrade(cluster, image)

    after = own_versions(cluster)
    swarm_figure("to", " / ".join(sorted(set(after.values()))))
    assert len(set(after.values())) == 1, f"nodes run different engines after it: {after}"
    # Per node: the engine swap until the node is back active (its drain is reported apart:
    # it depends on how many of the service's tasks the scheduler had put on that node).
    for upgrade in run.upgrades:
        swarm_figure(f"{upgrade.node}_s", upgrade.total_s - upgrade.drain_s)
    swarm_figure("upgrade_total_s", sum(u.total_s for u in run.upgrades))
    swarm_figure("slowest_node_s", max(u.total_s - u.drain_s for u in run.upgrades))
    swarm_figure("drain_max_s", max(u.drain_s for u in run.upgrades))
    swarm_figure("probe_hosts", "->".join(run.probe_hosts))

    swarm_attach_availability(run.probes, f"web during the engine upgrade to {new_engine}")
    verdict = check_availability(run.probes, min_success_ratio=1.0)
    for name, value in verdict.figures.items():
        swarm_figure(name, value)
    verdict.assert_ok()

    assert sorted(u.node for u in run.upgrades) == sorted(before), "not every node upgraded once"
    assert not version_problems(cluster, after), "the swarm is not whole after the upgrade"
    listed = {i.hostname: (i.id, i.role) for i in listed_by(cluster.managers[0])}
    assert listed == identities, "node IDs or roles changed across the upgrade"
    active = {i.hostname: i.availability for i in listed_by(cluster.managers[0])}
    assert set(active.values()) == {"active"}, f"availability after the upgrade: {active}"
    lead = cluster.leader_client()
    wait_converged(lead, "web", 3, image=workload_image("v1"))
