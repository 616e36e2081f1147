"""Raft: a dead leader is replaced and the swarm accepts changes again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suites import budgets
from swarmcheck.api import (
    PromiseTimeout,
    Recorder,
    Stopwatch,
    Swarm,
    SwarmClient,
    wait_converged,
    wait_until,
    wait_write_accepted,
)


@pytest.mark.swarm(capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-RAFT-001",
    area="raft",
    doc="https://docs.docker.com/engine/swarm/raft/",
    title="stopping the leader's node elects another leader; writes resume",
    promise=(
        "When the leader of a three-manager swarm stops, the other managers MUST elect a new "
        "leader and accept writes again."
    ),
    rows=("raft-failover",),
    effects=("writes", "stops", "leadership"),
)
def test_leader_failover(
    swarm_cluster: Swarm, web: Callable[..., SwarmClient], swarm_figure: Recorder
) -> None:
    """The leader's node stops: within Docker's election budget the other managers agree on a
    new leader, accept a write and run it; the old leader comes back as a follower and
    leadership stays where it moved."""
    if len(swarm_cluster.managers) < 3:
        pytest.skip(
            f"needs 3 managers to keep quorum, the cluster has {len(swarm_cluster.managers)}"
        )
    web("web", replicas=2)
    old = swarm_cluster.leader()
    survivors = [m for m in swarm_cluster.managers if m.name != old.name]
    clock = Stopwatch()
    old.stop(timeout_s=0)  # the swarm fixture restarts it if this test fails
    new = swarm_cluster.wait_leader(timeout_s=budgets.ELECTION_S, exclude=old.name)
    swarm_figure("failover_s", clock())
    budgets.assert_within("raft-failover", "election-after-kill", clock())  # both sides

    def agreed() -> bool | None:
        for m in survivors:
            if [i.hostname for i in swarm_cluster.node_list(via=m) if i.leader] != [new.name]:
                return None
        return True

    # Followers learn the new term from its first heartbeat (1 s): allow two.
    wait_until(
        agreed,
        what=f"every surviving manager to name {new.name} the leader",
        timeout_s=2.0,
        timeout_error=PromiseTimeout,
    )
    survivor = swarm_cluster.client(new)
    wait_write_accepted(survivor, "web", 4, timeout_s=budgets.WRITE_AFTER_ELECTION_S)
    swarm_figure("writes_accepted_s", clock())
    wait_converged(survivor, "web", 4)  # the write is seen running on the engines
    swarm_figure("write_running_s", clock())

    back = Stopwatch()
    old.start()
    old.close()  # its pooled connections point at the stopped engine
    old.wait_engine()
    swarm_cluster.wait_healthy(budgets.REJOIN_S)
    swarm_figure("rejoined_after_restart_s", back())
    assert swarm_cluster.leader().name == new.name, f"leadership moved back to {old.name}"
