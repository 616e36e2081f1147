"""Time budgets of documented Swarm behaviours, with where each comes from.

A wait that runs past its budget is a broken promise (``PromiseTimeout``), so every budget is
Docker's own (its documentation, or the timeout its own tests use) or, where a fault slows
the cluster on purpose, a measured figure with the margin argued next to it. The catalog rows
are those of swarmcheck/catalog/behaviors.json (docs/bounds.md lists every bound they state).
"""

from __future__ import annotations

from swarmcheck.api import (
    Bound,
    SwarmPromiseBroken,
    load_catalog,
)


def bound(row: str, key: str) -> Bound:
    """A bound the catalog states for ``row`` (docs/bounds.md lists them all): the limits a
    check asserts come from there, so the page and the assertion cannot disagree."""
    return load_catalog().bound(row, key)


def assert_within(row: str, key: str, value: float) -> None:
    """A measured value must respect both sides the catalog asserts for the bound; too early
    or too late is a broken promise that cites the catalog."""
    limits = bound(row, key)
    wrong = limits.judge(value)
    if wrong:
        raise SwarmPromiseBroken(
            wrong,
            expected=f"{limits.stated} (catalog {row})",
            seen=f"{value:g}" + (" s" if limits.unit == "s" else ""),
        )


ELECTION_S = 45.0
"""A new leader after the leader dies (raft-failover). Docker documents 10-20 s (raft
ElectionTick 10 ticks of 1 s, randomized to [10 s, 20 s)); moby's TestAPISwarmLeaderElection
allows 30 s, swarmkit's integration tests 64 s. 30 s covers one election round, not two: etcd
raft as swarmkit runs it (CheckQuorum on, PreVote off) lets a follower that heard from the
leader less than ElectionTick ago ignore a vote request, so the first campaign can fail and
the next comes 10-20 s later (up to 40 s), and ``wait_leader`` sees a leader up to 3 s late (a
`node ls` sent while there is no leader waits for its 3 s timeout). Measured here: 12-16 s
mostly, 19-27 s in 6 of 15 failovers on 2026-11-26 (quiet machine)."""

WRITE_AFTER_ELECTION_S = 30.0
"""A just-elected leader refuses writes for a moment; moby's defaultReconciliationTimeout."""

REJOIN_S = 30.0
"""A restarted or unfrozen manager back as a follower, the swarm whole again: moby polls the
restarted cluster's health for 30 s (TestAPISwarmRestartCluster, checkClusterHealth)."""

TASK_REPLACED_S = 30.0
"""A killed task's replacement running: restart delay (0.5 s here) plus a container start;
moby's TestAPISwarmServicesStateReporting allows 30 s (heal-task-replace). Measured: ~1.5 s."""

RESCHEDULED_S = 30.0
"""Tasks of a lost node running elsewhere: moby's TestAPISwarmServicesMultipleAgents allows
30 s (heal-node-loss)."""

QUORUM_REFUSAL_S = 60.0
"""Writes refused with "does not have a leader" once a majority of managers is down: the
leader steps down after ElectionTick (CheckQuorum), calls in flight time out after 20 s;
moby allows 2 x 30 s (TestAPISwarmRaftQuorum, q-writes-fail)."""

QUORUM_WINDOW_S = 60.0
"""How long, from the loss of quorum, task containers are watched and scaling and updating must
be refused: the catalog's fixed observation window for q-tasks-keep-running ("e.g. 60 s")."""

QUORUM_RESTORED_S = 30.0
"""A leader again once a majority is back: moby polls 30 s (q-restore)."""

FORCE_NEW_CLUSTER_S = 30.0
"""`swarm init --force-new-cluster` is synchronous (the engine waits up to 20 s); its services'
tasks running again within 30 s (q-force-new-cluster)."""

CONVERGE_S = 60.0
"""A service reaching N/N after a change: moby's ServicePoll allows 15 s on amd64 and 90 s on
arm; 60 s leaves room for six clusters sharing two cores."""


def node_down_budget_s(heartbeat_period_s: float) -> float:
    """A node that stopped sending heartbeats reported down (node-status-down): swarmkit's
    dispatcher marks it down after 3 heartbeat periods, each with a +-0.5 s epsilon, without
    one; 2 s more for the dispatcher's timer and the poll. 18.5 s with the default 5 s."""
    return _down_grace_s(heartbeat_period_s) + 2


def node_not_down_before_s(heartbeat_period_s: float) -> float:
    """The floor of node-status-down: a node that stopped sending heartbeats must not be
    reported down before this. swarmkit's dispatcher gives each node, at every heartbeat, a
    period p within +-0.5 s of the set one and marks it down 3 p after that heartbeat; the node
    sends its next one p later, so a node silenced just before its next heartbeat is down at
    the earliest 2 p after it went silent. 0.5 s less for the fault's own call (the clock starts
    before the freeze or stop returns). 8.5 s with the default 5 s."""
    return 2 * (heartbeat_period_s - 0.5) - 0.5


def unknown_nodes_grace_s(heartbeat_period_s: float) -> float:
    """How long a new leader (or a cluster made with --force-new-cluster) keeps nodes
    "unknown" before it marks the silent ones down: twice the normal grace of 3 heartbeats,
    each +-0.5 s (catalog raft-workers-not-down-on-failover; swarmkit markNodesUnknown). 33 s at
    Docker's default 5 s heartbeat. Until then, tasks on a dead node count as running, so a
    service is whole again on the engines only after it, plus a reschedule."""
    return 2 * _down_grace_s(heartbeat_period_s)


def _down_grace_s(heartbeat_period_s: float) -> float:
    """swarmkit's grace for a node's heartbeat: 3 periods, each up to 0.5 s late (epsilon)."""
    return 3 * (heartbeat_period_s + 0.5)


GRPC_RECONNECT_BACKOFF_MAX_S = 120.0
"""gRPC's default ceiling on the delay between reconnect attempts (grpc-go's backoff
MaxDelay): a manager whose connection to a peer failed during a partition may wait that long
after the heal before it tries again."""
PARTITION_CATCH_UP_S = GRPC_RECONNECT_BACKOFF_MAX_S + 30.0
"""How long a swarm may take to be whole again after a partition heals. Docker documents no
bound (raft-partition suggests 30 s); the mechanism's ceiling is the reconnect backoff above
plus one election (10-20 s) and a margin. Measured: whole again 14-32 s after healing in most
runs, but once (SC-CONS-004, 2026-12-07) the leader's connection to the follower it had been
cut from stayed down for more than 90 s after the heal: the follower, hearing nothing,
campaigned with a stale log and was refused, and the swarm had no leader at the end of a 90 s
wait. A wait shorter than the backoff would call a designed behaviour, which Docker does not
bound, a broken promise."""
