"""Raft under faults: leaders are replaced, never doubled, and the swarm recovers."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from suites import budgets
from swarmcheck.api import (
    MINORITY,
    NO_LEADER,
    ContainerSampler,
    FaultLog,
    LeaderSampler,
    PromiseTimeout,
    Recorder,
    ServiceWrites,
    Stopwatch,
    Swarm,
    SwarmClient,
    assert_all,
    await_refusal,
    boot_clock,
    check_kept_running,
    check_nothing_lost,
    check_refused,
    check_single_leader,
    check_unchanged,
    figures_of,
    inventory,
    of_known_outcome,
    of_unknown_outcome,
    partition,
    process,
    refused_through,
    toxics,
    wait_converged,
    wait_until,
    wait_write_accepted,
    watched_state,
    workload_image,
)

RAFT = "https://docs.docker.com/engine/swarm/raft/"
ADMIN = "https://docs.docker.com/engine/swarm/admin_guide/"

LATENCY_MARGIN_S = 5.0
"""Loose on purpose, for +500 ms on every control-plane round trip: an election needs a vote
round trip and the first read of the new leader is forwarded over the slow link; measured
here the failover took 12-18 s under that latency in five runs (12-16 s without)."""
UNKNOWN_NODES_NOTE = """Loose on purpose: the accepted write is judged seen running only once
the +500 ms latency is lifted. Right after a failover the new leader holds every node as
"unknown" for six heartbeats (30 s here) before it trusts or downs it; under that latency it
assigned the new task to the stopped node and held a replacement back until the old task was
known to stop. Measured here, twice: 0/3 and 1/3 tasks running 90 s after the write was
accepted, 3/3 within seconds of lifting the latency. Docker documents no time for this."""
SLOW_REJOIN_S = 120.0
"""Loose on purpose: a manager restarted while the control plane was slow had its TLS
handshakes time out and gRPC backs off between retries (seen here: back 16 s after the latency
was lifted); Docker documents no bound for this."""
MOVED_BACK_NOTE = """Recorded, not asserted: after this episode leadership may move back to
the restarted manager, and Swarm does not promise otherwise. Its peers' connections to it are
in gRPC reconnect backoff after the stop (it rejoined 45-88 s after its restart here), so it
hears no leader within its election timeout, campaigns and raises its term; swarmkit's etcd
raft runs without PreVote (catalog: raft-paused-leader), so once connected its higher term
makes the leader step down, and a new election follows. Seen in 2 of about 12 runs
(2026-11-25 at load 15-30, 2026-11-26 at load 2-3). The documented promise, a restarted
leader comes back as a follower and leadership does not move back, is about a plain restart:
SC-RAFT-001 and SC-RAFT-005 assert it, and passed in every stability round."""


@pytest.mark.swarm(faults=True, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-001",
    area="chaos/raft",
    doc=RAFT,
    title="leader failover while the control plane has 500 ms of added round-trip latency",
    promise=(
        "When the leader stops while every control-plane link is slow, the managers MUST "
        "elect a new leader and accept writes, with never two leaders, and the restarted old "
        "leader MUST rejoin once the latency is gone."
    ),
    rows=("raft-failover",),
    effects=("writes", "stops", "leadership"),
)
def test_failover_with_slow_control_plane(
    swarm_cluster: Swarm,
    web: Callable[..., SwarmClient],
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
) -> None:
    """With +500 ms on every control-plane round trip the stopped leader is replaced within
    Docker's election budget (plus ``LATENCY_MARGIN_S``), a write is accepted and seen running,
    never two leaders; the old leader rejoins once the latency is gone. Whether leadership
    moved back to it is recorded, not asserted (see ``MOVED_BACK_NOTE``)."""
    web("web", replicas=2)
    old = swarm_cluster.leader()
    stopped = process.stop_node(swarm_cluster, old, log=swarm_fault_log)
    with LeaderSampler(swarm_cluster) as sampler:
        # 250 ms each way on every manager: +500 ms on every control-plane round trip
        with toxics.slow_control_plane(swarm_cluster, 250, 25, log=swarm_fault_log):
            clock = Stopwatch()
            stopped.start()
            new = swarm_cluster.wait_leader(
                timeout_s=budgets.ELECTION_S + LATENCY_MARGIN_S, exclude=old.name
            )
            swarm_figure("failover_s", clock())
            lead = swarm_cluster.client(new)
            wait_write_accepted(lead, "web", 3, timeout_s=budgets.WRITE_AFTER_ELECTION_S)
            swarm_figure("writes_accepted_s", clock())
        # Seen running once the latency is lifted (see UNKNOWN_NODES_NOTE).
        lifted = Stopwatch()
        wait_converged(lead, "web", 3, timeout_s=budgets.CONVERGE_S)
        swarm_figure("write_running_after_heal_s", lifted())
        # The old leader comes back once the latency is gone: restarted under +500 ms round
        # trips, its TLS handshakes to the other managers time out and gRPC backs off for
        # minutes (seen here), which is a separate question from failover.
        back = Stopwatch()
        stopped.stop()
        swarm_cluster.wait_healthy(SLOW_REJOIN_S)
        swarm_figure("rejoined_after_restart_s", back())
    verdict = check_single_leader(sampler.samples)
    swarm_figure("deposed_leader_s", verdict.figures["deposed_leader_s"])
    verdict.assert_ok()
    # Recorded, not asserted (see MOVED_BACK_NOTE).
    leader = swarm_cluster.leader().name
    swarm_figure("leadership_after_rejoin", "kept" if leader == new.name else f"moved to {leader}")


@pytest.mark.swarm(capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-002",
    area="chaos/raft",
    doc=RAFT,
    title="a paused leader is replaced; unpaused it rejoins as a follower",
    promise=(
        "When the leader is frozen the other managers MUST elect a new leader, and the "
        "unfrozen old leader MUST rejoin as a follower with never two leaders."
    ),
    rows=("raft-paused-leader",),
    effects=("writes", "stops", "leadership"),
)
def test_paused_leader_is_replaced(
    swarm_cluster: Swarm, swarm_fault_log: FaultLog, swarm_figure: Recorder
) -> None:
    """A frozen leader is replaced within Docker's election budget; unfrozen, it steps down
    (within ``DEPOSED_GRACE_S``, see checkers.leaders), names the new leader in its own view
    and the swarm is whole again within the rejoin budget."""
    with LeaderSampler(swarm_cluster) as sampler:
        old = swarm_cluster.leader()
        clock = Stopwatch()
        with process.pause_node(swarm_cluster, old, log=swarm_fault_log):
            new = swarm_cluster.wait_leader(timeout_s=budgets.ELECTION_S, exclude=old.name)
            swarm_figure("failover_s", clock())
            budgets.assert_within("raft-paused-leader", "election", clock())  # both sides
        back = Stopwatch()
        swarm_cluster.wait_healthy(budgets.REJOIN_S)
        swarm_figure("rejoined_after_unpause_s", back())
    own_view = {i.hostname: i for i in swarm_cluster.node_list(via=old)}
    assert not own_view[old.name].leader, f"{old.name} still calls itself Leader after unpause"
    assert own_view[new.name].leader, f"{old.name} does not see {new.name} as Leader"
    verdict = check_single_leader(sampler.samples)
    swarm_figure("deposed_leader_s", verdict.figures["deposed_leader_s"])
    swarm_figure("late_leader_views", verdict.figures["late_samples"])  # the frozen leader's
    verdict.assert_ok()


@pytest.mark.swarm(capabilities=("partition",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-003",
    area="chaos/raft",
    doc=ADMIN,
    title="a partitioned manager: the majority keeps its leader and writes, "
    "the isolated one cannot write, it catches up after healing",
    promise=(
        "During a partition the majority MUST keep a leader and accept writes while the "
        "isolated manager MUST NOT commit any, and after healing it MUST catch up with "
        "nothing lost."
    ),
    rows=("raft-partition",),
    effects=("writes", "stops", "leadership"),
)
def test_partitioned_manager(
    swarm_cluster: Swarm,
    web: Callable[..., SwarmClient],
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
) -> None:
    """A follower is cut off: the majority keeps its leader, its writes are seen running; the
    isolated manager answers a scale (with the version it knew, one request) and a service
    create with the minority's error (a deadline or no leader, HTTP 500); healed, it sees
    what was created meanwhile, neither isolated write took effect (web's version, spec and
    containers on every engine as the majority left them), one leader throughout and nothing
    lost. The service avoids the victim: a node cut off keeps running what it has
    (documented), which is not what this check is about."""
    leader = swarm_cluster.leader()
    victim = next(m for m in swarm_cluster.managers if m.name != leader.name)
    lead = web("web", replicas=2, constraints=[f"node.hostname!={victim.name}"])
    before = inventory(swarm_cluster)
    known = lead.stored_service("web")  # what the isolated manager last knew of web
    with LeaderSampler(swarm_cluster) as sampler:
        clock = Stopwatch()
        with partition.isolate(swarm_cluster, victim, log=swarm_fault_log):
            wait_until(
                lambda: (
                    True
                    if {i.hostname: i for i in lead.nodes()}[victim.name].reachability
                    == "unreachable"
                    else None
                ),
                what=f"the majority to see {victim.name} unreachable",
                # raft-follower-down: about 30 s for `unreachable` (the raft transport's peer
                # heartbeat is ElectionTick x tick = 10 s)
                timeout_s=30,
                timeout_error=PromiseTimeout,
            )
            swarm_figure("detected_unreachable_s", clock())
            assert swarm_cluster.leader(timeout_s=10).name == leader.name, (
                "the majority lost its leader"
            )
            lead.scale("web", 3)
            lead.create_service("during", "swarmcheck/workload:v1", 1)
            wait_converged(lead, "web", 3, timeout_s=budgets.CONVERGE_S)
            wait_converged(lead, "during", 1, timeout_s=budgets.CONVERGE_S)
            swarm_figure("majority_write_running_s", clock())
            # What the majority made of web, before the isolated manager writes anything.
            majority = watched_state(lead, lead.stored_service("web"), swarm_cluster.nodes)
            # Through the isolated manager, at once: a scale of web with the version it knew
            # and a create, each one request.
            writes = ServiceWrites.via(victim, known, clock)
            with ThreadPoolExecutor(max_workers=2) as pool:
                scale, create = pool.submit(writes.scale, 5), pool.submit(writes.create, "isolated")
                isolated = [scale.result(), create.result()]
            swarm_figure("isolated_writes_answered_s", clock())
        healed = Stopwatch()
        swarm_cluster.wait_healthy(budgets.PARTITION_CATCH_UP_S)
        wait_until(
            lambda: True if swarm_cluster.client(victim).exists("during") else None,
            what=f"{victim.name} to see the service created meanwhile",
            timeout_s=budgets.PARTITION_CATCH_UP_S,
            timeout_error=PromiseTimeout,
        )
        swarm_figure("caught_up_after_heal_s", healed())
    verdict = check_single_leader(sampler.samples)
    swarm_figure("deposed_leader_s", verdict.figures["deposed_leader_s"])
    # Nothing the isolated manager sent can reach a leader, and its deadline passed before the
    # heal: neither answer (deadline or no leader) may take effect, web stays as the majority
    # left it (version, spec, containers on every engine) and no "isolated" service appears.
    now = swarm_cluster.leader_client()
    verdicts = {
        "isolated": check_refused(isolated, MINORITY),
        "unchanged": check_unchanged(
            majority, watched_state(now, now.stored_service("web"), swarm_cluster.nodes), isolated
        ),
    }
    for name, value in figures_of(**verdicts).items():
        swarm_figure(name, value)
    assert_all([verdict, *verdicts.values()])
    check_nothing_lost(before, inventory(swarm_cluster)).assert_ok()


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-004",
    area="chaos/raft",
    doc=ADMIN,
    title="quorum loss: writes refused, tasks keep running; one manager "
    "back and writes work, nothing lost",
    promise=(
        "With a majority of managers down writes MUST be refused while running tasks keep "
        "running, and one manager back MUST restore writes with nothing lost."
    ),
    rows=("q-writes-fail", "q-tasks-keep-running", "q-restore"),
    effects=("writes", "stops", "leadership"),
)
def test_quorum_loss_and_recovery(
    swarm_cluster: Swarm,
    web: Callable[..., SwarmClient],
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
) -> None:
    """2 of 3 managers stop at once. Service creates (one request each) go to the survivor
    until one is refused with the documented message; through the rest of the 60 s window,
    scale and update writes of web, each with web's version from before the loss, must be
    refused the same way, while the task containers on the nodes still up (the survivor and
    the worker, where web runs) keep running, sampled every 2 s from the loss. One manager
    back: a leader, nothing a refused write asked for happened (web's version, spec and
    containers on every engine as before), a new write seen running, nothing lost."""
    if len(swarm_cluster.managers) != 3:
        pytest.skip(f"written for 3 managers, the cluster has {len(swarm_cluster.managers)}")
    replicas = 2 * swarm_cluster.spec.size
    survivor, *others = swarm_cluster.managers
    up = [survivor, *swarm_cluster.workers]
    # web runs on the nodes that stay up: what they run can be compared on every engine.
    lead = web("web", replicas=replicas, constraints=[f"node.hostname!={n.name}" for n in others])
    before = inventory(swarm_cluster)
    stored = lead.stored_service("web")
    state_before = watched_state(lead, stored, swarm_cluster.nodes)
    running = {n.name: state_before.containers[n.name] or frozenset() for n in up}
    assert all(running.values()), f"a node that stays up runs no task of web: {running}"
    first, second = (process.stop_node(swarm_cluster, n, log=swarm_fault_log) for n in others)
    outage = Stopwatch()
    writes = ServiceWrites.via(survivor, stored, outage)
    with ContainerSampler(up, "web") as kept:
        lost = boot_clock()
        with ThreadPoolExecutor(max_workers=2) as pool:  # at once: no time to reschedule between
            list(pool.map(lambda fault: fault.start(), (first, second)))
        probes = await_refusal(
            lambda i: writes.create(f"refused-{i}"),
            NO_LEADER,
            timeout_s=budgets.QUORUM_REFUSAL_S,
            what="a service create without quorum",
        )
        swarm_figure("refused_after_s", outage())
        swarm_figure("writes_before_refusal", len(probes) - 1)
        judged = refused_through(
            writes, budgets.QUORUM_WINDOW_S, replicas + 1, workload_image("v2")
        )
        time.sleep(kept.interval_s)  # one more sample past the window's end
    swarm_figure("outage_s", outage())
    verdicts = {
        "creates": check_refused(probes, NO_LEADER),
        "writes": check_refused(judged, NO_LEADER),
        "kept": check_kept_running(running, kept.samples),
    }
    swarm_figure("watched_from_loss_s", round(max(s.t for s in kept.samples) - lost, 1))

    back = Stopwatch()
    first.stop()  # one manager back: 2 of 3, quorum again
    leader = swarm_cluster.wait_leader(
        timeout_s=budgets.QUORUM_RESTORED_S, exclude=second.targets[0]
    )
    swarm_figure("quorum_back_s", back())
    lead = swarm_cluster.client(leader)
    # A write refused with the documented message never takes effect. One that timed out
    # while the leader stepped down may: its proposal can sit in the old leader's log and
    # commit once a majority is back (Raft: the outcome of a timed-out request is unknown).
    answers = [*probes, *judged]
    verdicts["unchanged"] = check_unchanged(
        state_before,
        watched_state(lead, lead.stored_service("web"), swarm_cluster.nodes),
        refused=of_known_outcome(answers, NO_LEADER),
        unknown=of_unknown_outcome(answers, NO_LEADER),
    )
    for name, value in figures_of(**verdicts).items():
        swarm_figure(name, value)
    assert_all(list(verdicts.values()))
    wait_write_accepted(lead, "web", replicas - 2, timeout_s=budgets.WRITE_AFTER_ELECTION_S)
    wait_converged(lead, "web", replicas - 2, timeout_s=budgets.CONVERGE_S)
    swarm_figure("write_running_s", back())
    check_nothing_lost(before, inventory(swarm_cluster)).assert_ok()


@pytest.mark.swarm(capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-005",
    area="chaos/raft",
    doc=ADMIN,
    title="force-new-cluster on the last manager recovers the swarm",
    promise=(
        "`swarm init --force-new-cluster` on the last manager MUST recover a working swarm "
        "that keeps its services."
    ),
    rows=("q-force-new-cluster",),
    effects=("writes", "stops", "membership", "leadership"),
)
def test_force_new_cluster(
    swarm_fresh_cluster: Swarm, swarm_fault_log: FaultLog, swarm_figure: Recorder
) -> None:
    """The other managers are killed; `swarm init --force-new-cluster` on the survivor makes
    it the only manager (and Leader) of a new raft cluster with the same services, and a
    scale afterwards is seen running."""
    cluster = swarm_fresh_cluster
    lead = cluster.leader_client()
    lead.create_service("web", "swarmcheck/workload:v1", 2)
    wait_converged(lead, "web", 2)
    before = inventory(cluster)
    survivor = cluster.managers[0]
    for node in cluster.managers[1:]:
        process.kill_node(cluster, node, log=swarm_fault_log).start()
    clock = Stopwatch()
    own = cluster.client(survivor)
    own.init(f"{survivor.ip}:2377", force_new_cluster=True)

    def sole_manager() -> bool | None:
        info = own.info()
        remote = [m.get("Addr") for m in info.get("RemoteManagers") or []]
        managers = [n for n in own.nodes() if n.role == "manager" and n.reachability == "reachable"]
        leaders = [n.hostname for n in own.nodes() if n.leader]
        ok = (
            info.get("ControlAvailable")
            and remote == [f"{survivor.ip}:2377"]
            and [m.hostname for m in managers] == [survivor.name]
            and leaders == [survivor.name]
        )
        return True if ok else None

    wait_until(
        sole_manager,
        what=f"{survivor.name} to lead a new cluster as its only reachable manager",
        timeout_s=budgets.FORCE_NEW_CLUSTER_S,
        timeout_error=PromiseTimeout,
    )
    swarm_figure("new_cluster_s", clock())
    wait_write_accepted(own, "web", 3, timeout_s=budgets.WRITE_AFTER_ELECTION_S)
    # The killed managers' tasks count as running until the new cluster marks their nodes
    # down; then they are rescheduled (seen at the 5 s heartbeat: not whole after 30 s).
    wait_converged(
        own,
        "web",
        3,
        timeout_s=budgets.unknown_nodes_grace_s(cluster.spec.heartbeat_s)
        + budgets.FORCE_NEW_CLUSTER_S,
    )
    swarm_figure("recovered_s", clock())
    check_nothing_lost(before, inventory(cluster)).assert_ok()
    cluster.dirty = "force-new-cluster left a one-manager swarm"
