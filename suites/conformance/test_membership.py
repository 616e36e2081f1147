"""Membership: init, join, leave, pending joins, bad input, roles and join tokens.

Most checks take the worker out of the shared swarm and put it back afterwards (fixtures
``rejoins`` and ``outside``), so they need the 3-manager + 1-worker shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from suites import budgets
from swarmcheck.api import (
    SWARM_PORT,
    EngineAPIError,
    EngineUnreachable,
    EventRecord,
    NodeInfo,
    Recorder,
    Stopwatch,
    Swarm,
    SwarmNode,
    SwarmPromiseBroken,
    advertise_address,
    cert_ou,
    entries_of,
    forget_node,
    join_address,
    join_swarm,
    judge_ping_header,
    lead_client,
    leave_swarm,
    local_swarm,
    manager_views,
    partition,
    ping_swarm_header,
    process,
    promise_timeout,
    recorded_once,
    refused,
    restore_membership,
    rotate_join_token,
    run_labels,
    unused_address,
    view_problems,
    wait_converged,
    wait_engine_answers,
    wait_listening,
    wait_local_state,
    wait_until,
    workload_image,
)

DOCS = "https://docs.docker.com/engine/swarm"
CLI = "https://docs.docker.com/reference/cli/docker"
WORKER_REFUSAL = (
    "This node is not a swarm manager. Worker nodes can't be used to view or modify "
    "cluster state. Please run this command on a manager node or promote the current node "
    "to a manager."
)
MANAGER_LEAVE = (
    "You are attempting to leave the swarm on a node that is participating as a manager. "
)
LAST_MANAGER = "Removing the last manager erases all current state of the swarm."
DEMOTE_LAST = "attempting to demote the last manager of the swarm"
ADVERTISE_UNREACHABLE = (
    "could not connect to prospective new cluster member using its advertised address"
)
JOIN_TIMEOUT = (
    "Timeout was reached before node joined. The attempt to join the swarm will continue in "
    'the background. Use the "docker info" command to see the current swarm status of your '
    "node."
)
TASK_LABEL = "com.docker.swarm.service.id"
TOKEN_REFUSED = "A valid join token is necessary to join this cluster"
"""How a join with a rotated-out token is refused (seen for the worker and manager tokens)."""


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def rejoins(swarm_cluster: Swarm, worker: SwarmNode) -> Iterator[SwarmNode]:
    """The worker; whatever the check does to its membership, it is back in the swarm as a
    worker afterwards."""
    try:
        yield worker
    finally:
        restore_membership(swarm_cluster, worker)


@pytest.fixture
def outside(swarm_cluster: Swarm, rejoins: SwarmNode) -> SwarmNode:
    """The worker, out of the swarm (LocalNodeState inactive, its entry removed); back in the
    swarm after the check."""
    leave_swarm(swarm_cluster, rejoins)
    return rejoins


def clean_engine(swarm_cluster: Swarm, node: SwarmNode) -> None:
    """After a check in which ``node`` joined (or tried to join) as a manager: out of the swarm
    (its raft membership removed with its entry) and its engine restarted.

    Engine 20.10: once a node has joined, or tried to join, as a manager, every later
    `swarm leave` of it waits 5 s ("timeout while waiting for ingress network removal") until
    its engine restarts; the checks after this one then leave as fast as before.
    """
    if local_swarm(node)["LocalNodeState"] != "inactive":
        swarm_cluster.client(node).leave(force=True)
    forget_node(swarm_cluster, node.name)
    with process.restart_node(swarm_cluster, node):
        pass


def standalone(swarm_cluster: Swarm, node: SwarmNode, name: str) -> str:
    """A standalone (non-service) container on ``node``'s engine, removed by the reset; its
    ID."""
    return node.engine().run(
        workload_image(), name=name, labels=run_labels(swarm_cluster.run_id, "standalone")
    )


def container_state(node: SwarmNode, container: str) -> str:
    """running, exited, ...: the container's state as its node's engine reports it."""
    return str(node.engine().container(container)["State"]["Status"])


# -- a swarm of one node: init, then what its last manager may not do -------------------------
@dataclass
class SoloSwarm(EventRecord):
    """The worker leaves, makes a swarm of its own (`swarm init`), tries to demote itself and
    to leave without force, then leaves with force and rejoins the cluster."""

    node: SwarmNode | None = None
    header_outside: str | None = None
    init_s: float | None = None
    info: dict[str, Any] | None = None
    own_view: list[NodeInfo] | None = None
    header_manager: str | None = None
    write_accepted: bool | None = None
    demote_refused: EngineAPIError | None = None
    view_after_demote: list[NodeInfo] | None = None
    leave_refused: EngineAPIError | None = None
    info_after_refused_leave: dict[str, Any] | None = None
    info_after_forced_leave: dict[str, Any] | None = None


def run_solo_swarm(swarm_cluster: Swarm, node: SwarmNode, rec: SoloSwarm) -> None:
    rec.node = node
    try:
        leave_swarm(swarm_cluster, node)
        rec.header_outside = ping_swarm_header(node)
        own = swarm_cluster.client(node)
        clock = Stopwatch()
        own.init(f"{node.ip}:2377", data_path_addr=node.ip)
        rec.init_s = clock()
        rec.note(f"{node.name}: swarm init returned after {rec.init_s:.1f}s")
        rec.info = local_swarm(node)
        rec.own_view = own.nodes()
        rec.header_manager = ping_swarm_header(node)
        rec.write_accepted = bool(own.configs.create("solo", b"1"))
        me = own.inspect_node(rec.info["NodeID"])
        spec = {**me["Spec"], "Role": "worker"}
        rec.demote_refused = refused(
            lambda: own.update_node_raw(me["ID"], me["Version"]["Index"], spec),
            "demoting the only manager",
        )
        rec.note(f"demoting the only manager: {rec.demote_refused.explanation}")
        rec.view_after_demote = own.nodes()
        rec.leave_refused = refused(own.leave, "the last manager leaving without force")
        rec.note(f"leave without force: {rec.leave_refused.explanation}")
        rec.info_after_refused_leave = local_swarm(node)
        own.leave(force=True)
        rec.info_after_forced_leave = local_swarm(node)
        rec.note(f"forced leave: {rec.info_after_forced_leave['LocalNodeState']}")
    finally:
        restore_membership(swarm_cluster, node)


@pytest.fixture
def solo(swarm_cluster: Swarm, worker: SwarmNode) -> SoloSwarm:
    return recorded_once(
        swarm_cluster,
        "solo-swarm",
        lambda rec: run_solo_swarm(swarm_cluster, worker, rec),
        SoloSwarm(),
    )


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-001",
    area="membership",
    doc=f"{DOCS}/swarm-tutorial/create-swarm/",
    title="swarm init: an active manager and Leader; /_ping says active/manager",
    promise="After `swarm init` the engine MUST report LocalNodeState active, ControlAvailable "
    "true and no root rotation, list itself as the Leader manager and accept writes, and its "
    "/_ping Swarm header MUST change from inactive to active/manager.",
    rows=("mem-init",),
    needs=(),
    effects=("membership",),
)
def test_init_makes_an_active_leader(solo: SoloSwarm, swarm_figure: Recorder) -> None:
    solo.need(solo.node, solo.info, solo.own_view, solo.init_s)
    assert solo.node and solo.info and solo.own_view is not None and solo.init_s is not None
    swarm_figure("init_s", solo.init_s)
    budgets.assert_within("mem-init", "init-returns", solo.init_s)
    swarm_figure(
        "ping_header_before",
        judge_ping_header(solo.node, solo.header_outside, "inactive"),
    )
    info = solo.info
    assert info["LocalNodeState"] == "active", f"docker info Swarm: {info}"
    assert info["ControlAvailable"] is True, "the node that ran `swarm init` is not a manager"
    assert info["Cluster"]["RootRotationInProgress"] is False, f"cluster: {info['Cluster']}"
    assert (info["Managers"], info["Nodes"]) == (1, 1), f"docker info Swarm: {info}"
    [me] = solo.own_view
    assert me.id == info["NodeID"], f"node ls lists {me}, not the node itself"
    assert (me.role, me.leader, me.state) == ("manager", True, "ready"), f"node ls: {me}"
    assert solo.write_accepted, "the new manager did not accept a write"
    swarm_figure(
        "ping_header_after", judge_ping_header(solo.node, solo.header_manager, "active/manager")
    )


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-RAFT-008",
    area="raft",
    doc=f"{DOCS}/admin_guide/#add-manager-nodes-for-fault-tolerance",
    title="demoting the last manager is refused (400) and it stays manager",
    promise="The swarm MUST refuse to demote its last manager with HTTP 400 and the node MUST "
    "stay a manager.",
    rows=("raft-demote-last",),
    needs=(),
    effects=("membership",),
)
def test_last_manager_cannot_be_demoted(solo: SoloSwarm) -> None:
    solo.need(solo.demote_refused, solo.view_after_demote, solo.info)
    assert solo.demote_refused and solo.view_after_demote and solo.info
    refused = solo.demote_refused
    assert refused.status_code == 400, f"status {refused.status_code}: {refused.explanation}"
    assert DEMOTE_LAST in refused.explanation, f"refusal: {refused.explanation!r}"
    [me] = solo.view_after_demote
    assert (me.role, me.leader) == ("manager", True), f"after the refused demotion: {me}"


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-008",
    area="membership",
    doc=f"{DOCS}/manage-nodes/#leave-the-swarm",
    title="a manager may not leave without force (503, documented warning); force leaves",
    promise="A manager MUST refuse `swarm leave` without force with HTTP 503 and the warning "
    "that it participates as a manager (for the last manager: that leaving erases the swarm's "
    "state) and stay in the swarm, and a forced leave MUST succeed.",
    rows=("mem-leave",),
    needs=(),
    effects=("membership",),
)
def test_manager_leave_needs_force(swarm_cluster: Swarm, solo: SoloSwarm) -> None:
    # One of three managers: refused, nothing changes.
    follower = next(m for m in swarm_cluster.managers if m.name != swarm_cluster.leader().name)
    refusal = refused(
        swarm_cluster.client(follower).leave, f"{follower.name} leaving without force"
    )
    assert refusal.status_code == 503, f"status {refusal.status_code}: {refusal.explanation}"
    assert refusal.explanation.startswith(MANAGER_LEAVE), f"refusal: {refusal.explanation!r}"
    assert LAST_MANAGER not in refusal.explanation, f"not the last manager: {refusal.explanation}"
    info = local_swarm(follower)
    assert (info["LocalNodeState"], info["ControlAvailable"]) == ("active", True), info
    assert swarm_cluster.health_problems() == [], "a refused leave changed the swarm"

    # The last manager: refused with the warning that its state would be erased; force leaves.
    solo.need(solo.leave_refused, solo.info_after_refused_leave, solo.info_after_forced_leave)
    assert solo.leave_refused and solo.info_after_refused_leave and solo.info_after_forced_leave
    last = solo.leave_refused
    assert last.status_code == 503, f"status {last.status_code}: {last.explanation}"
    assert last.explanation.startswith(MANAGER_LEAVE), f"refusal: {last.explanation!r}"
    assert LAST_MANAGER in last.explanation, f"refusal: {last.explanation!r}"
    assert solo.info_after_refused_leave["LocalNodeState"] == "active"
    assert solo.info_after_forced_leave["LocalNodeState"] == "inactive"


# -- join -------------------------------------------------------------------------------------
@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-005",
    area="membership",
    doc=f"{DOCS}/join-nodes/#join-as-a-worker-node",
    title="a worker-token join: active, no control plane; every manager lists a ready worker",
    promise="A node joining with the worker token MUST become active without control-plane "
    "access, and every manager MUST list it as a ready, active worker without ManagerStatus.",
    rows=("mem-join-worker",),
    needs=(),
    effects=("membership",),
)
def test_worker_join(swarm_cluster: Swarm, outside: SwarmNode) -> None:
    node = outside
    token = lead_client(swarm_cluster).join_tokens()["worker"]
    swarm_cluster.client(node).join(
        join_address(swarm_cluster), token, advertise_address(swarm_cluster, node), node.ip
    )
    info = local_swarm(node)
    assert (info["LocalNodeState"], info["ControlAvailable"]) == ("active", False), info

    def listed_everywhere() -> dict[str, dict[str, Any]] | None:
        seen = {}
        for manager in swarm_cluster.managers:
            seen[manager.name] = swarm_cluster.client(manager).inspect_node(info["NodeID"])
        return seen if all(a["Status"]["State"] == "ready" for a in seen.values()) else None

    # moby waits at most 5 s for the ready count (TestAPISwarmServicesUpdate)
    seen = wait_until(
        listed_everywhere,
        what=f"every manager to list {node.name} ready",
        timeout_s=5,
        timeout_error=promise_timeout,
    )
    for manager, attrs in seen.items():
        assert attrs["Spec"]["Role"] == "worker", f"{manager}: role {attrs['Spec']['Role']}"
        assert attrs["Spec"]["Availability"] == "active", f"{manager}: {attrs['Spec']}"
        assert attrs.get("ManagerStatus") is None, f"{manager}: {attrs.get('ManagerStatus')}"


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-MEM-006",
    area="membership",
    doc=f"{DOCS}/join-nodes/#join-as-a-manager-node",
    title="a manager-token join: reachable non-leader, the leader stays, all know its address",
    promise="A node joining with the manager token MUST gain control-plane access and show as a "
    "reachable manager that is not the leader, the existing leader MUST keep leadership, and "
    "every node MUST list the new manager's address among its remote managers.",
    rows=("mem-join-manager",),
    needs=(),
    effects=("membership", "stops"),
)
def test_manager_join(swarm_cluster: Swarm, outside: SwarmNode) -> None:
    try:
        check_manager_join(swarm_cluster, outside)
    finally:
        clean_engine(swarm_cluster, outside)


def check_manager_join(swarm_cluster: Swarm, node: SwarmNode) -> None:
    leader_before = swarm_cluster.leader()
    token = lead_client(swarm_cluster).join_tokens()["manager"]
    swarm_cluster.client(node).join(
        join_address(swarm_cluster), token, advertise_address(swarm_cluster, node), node.ip
    )
    info = local_swarm(node)
    assert (info["LocalNodeState"], info["ControlAvailable"]) == ("active", True), info
    assert len(swarm_cluster.client(node).nodes()) == swarm_cluster.spec.size, (
        "the new manager's node ls"
    )
    managers = [*swarm_cluster.managers, node]

    def settled() -> dict[str, list[NodeInfo]] | None:
        views = manager_views(swarm_cluster, managers)
        entries = [entries_of(v, node.name) for v in views.values()]
        ok = all(len(e) == 1 and e[0].reachability == "reachable" for e in entries)
        return views if ok else None

    # the role manager reconciles every 5 s; moby allows 30 s for cluster changes
    views = wait_until(
        settled,
        what=f"every manager to list {node.name} as a reachable manager",
        timeout_s=30,
        timeout_error=promise_timeout,
    )
    for observer, view in views.items():
        [entry] = entries_of(view, node.name)
        assert entry.role == "manager" and not entry.leader, f"{observer} lists {entry}"
        leaders = [i.hostname for i in view if i.leader]
        assert leaders == [leader_before.name], f"{observer} names leader(s) {leaders}"

    addresses = {advertise_address(swarm_cluster, m) for m in managers}

    def remote_managers_known() -> bool | None:
        known = {m.name: {r["Addr"] for r in local_swarm(m)["RemoteManagers"]} for m in managers}
        return True if all(k == addresses for k in known.values()) else None

    wait_until(
        remote_managers_known,
        what="every node's RemoteManagers to list the four managers",
        timeout_s=30,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-MEM-007",
    area="membership",
    doc=f"{DOCS}/admin_guide/#configure-the-manager-to-advertise-on-a-static-ip-address",
    title="a manager advertising an address the swarm cannot reach is refused; raft unchanged",
    promise="A manager join whose advertised address the cluster cannot connect back to MUST "
    "fail with the documented error and MUST NOT change the raft member list.",
    rows=("mem-manager-advertise",),
    needs=(),
    effects=("membership", "stops"),
)
def test_unreachable_advertise_address_is_refused(
    swarm_cluster: Swarm, outside: SwarmNode, swarm_figure: Recorder
) -> None:
    try:
        check_unreachable_advertise_address(swarm_cluster, outside, swarm_figure)
    finally:
        clean_engine(swarm_cluster, outside)


def check_unreachable_advertise_address(
    swarm_cluster: Swarm, node: SwarmNode, swarm_figure: Recorder
) -> None:
    members_before = {
        name: sorted(i.id for i in view if i.reachability is not None)
        for name, view in manager_views(swarm_cluster).items()
    }
    leader_before = swarm_cluster.leader().name
    token = lead_client(swarm_cluster).join_tokens()["manager"]
    nowhere = unused_address(swarm_cluster)  # inside the run's own node network; nothing answers
    clock = Stopwatch()
    with pytest.raises(EngineAPIError) as refused:
        swarm_cluster.client(node).join(
            join_address(swarm_cluster), token, f"{nowhere}:2377", node.ip
        )
    swarm_figure("refused_after_s", round(clock(), 2))
    assert ADVERTISE_UNREACHABLE in refused.value.explanation, refused.value.explanation
    budgets.assert_within("mem-manager-advertise", "refused", clock())
    assert local_swarm(node)["LocalNodeState"] == "inactive"
    members_after = {
        name: sorted(i.id for i in view if i.reachability is not None)
        for name, view in manager_views(swarm_cluster).items()
    }
    assert members_after == members_before, "the refused join changed the raft members"
    for manager in swarm_cluster.managers:
        assert local_swarm(manager)["Managers"] == len(swarm_cluster.managers)
    assert swarm_cluster.leader().name == leader_before


# -- leave ------------------------------------------------------------------------------------
@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-009",
    area="membership",
    doc=f"{DOCS}/manage-nodes/#leave-the-swarm",
    title="a worker leaves (inactive, /_ping inactive); ten back-to-back join/leave cycles work",
    promise="A worker's `swarm leave` MUST make it inactive at once, and a node MUST be able to "
    "join and leave again ten times back to back.",
    rows=("mem-leave",),
    needs=(),
    effects=("membership",),
)
def test_worker_leave_and_rejoin_cycles(
    swarm_cluster: Swarm, rejoins: SwarmNode, swarm_figure: Recorder
) -> None:
    node = rejoins
    me = swarm_cluster.client(node)
    me.leave()
    assert local_swarm(node)["LocalNodeState"] == "inactive"
    swarm_figure(
        "ping_header_after_leave", judge_ping_header(node, ping_swarm_header(node), "inactive")
    )
    token = lead_client(swarm_cluster).join_tokens()["worker"]
    where, advertise = join_address(swarm_cluster), advertise_address(swarm_cluster, node)
    clock = Stopwatch()
    for cycle in range(10):  # moby: TestSwarmJoinLeave
        me.join(where, token, advertise, node.ip)
        joined = local_swarm(node)["LocalNodeState"]
        assert joined == "active", f"cycle {cycle + 1}: {joined} after join"
        me.leave()
        left = local_swarm(node)["LocalNodeState"]
        assert left == "inactive", f"cycle {cycle + 1}: {left} after leave"
    swarm_figure("ten_cycles_s", clock())


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-010",
    area="membership",
    doc=f"{CLI}/swarm/leave/",
    title="a worker's leave (plain, then forced) removes its task containers and keeps "
    "standalone ones; the managers list it down",
    promise="A worker that leaves the swarm, with or without force, MUST remove its "
    "service-task containers within 30 s, MUST keep its standalone containers running, and "
    "the managers MUST list it as down.",
    rows=("mem-leave",),
    needs=(),
    effects=("writes", "membership"),
)
def test_leave_removes_task_containers(
    swarm_cluster: Swarm, rejoins: SwarmNode, swarm_figure: Recorder
) -> None:
    node = rejoins
    lead = lead_client(swarm_cluster)
    # Pinned by hostname: the node keeps its name, not its ID, when it joins again.
    service_id = lead.create_service(
        "pinned", workload_image(), 2, constraints=[f"node.hostname=={node.name}"]
    )
    kept = standalone(swarm_cluster, node, "standalone-kept")
    for force in (False, True):
        wait_converged(lead, "pinned", 2)
        left_id = leave_with_tasks(swarm_cluster, node, service_id, force=force)
        state = container_state(node, kept)
        assert state == "running", f"the standalone container is {state}"
        # NODES: "The node still appears in the node list, and marked as down" (SC-NODE-004
        # waits as long for it).
        clock = Stopwatch()

        def down(node_id: str = left_id) -> bool | None:
            state = next((i.state for i in lead.nodes() if i.id == node_id), "down")
            return True if state == "down" else None

        wait_until(
            down,
            what=f"the managers to list {node.name} down after it left",
            timeout_s=30,
            timeout_error=promise_timeout,
        )
        swarm_figure("forced_down_s" if force else "plain_down_s", round(clock(), 2))
        restore_membership(swarm_cluster, node)  # joins again; the pinned tasks come back


def leave_with_tasks(swarm_cluster: Swarm, node: SwarmNode, service_id: str, *, force: bool) -> str:
    """``node`` runs two tasks of ``service_id`` and leaves; its task containers must be gone
    within moby's 30 s (TestAPISwarmLeaveRemovesContainer). Returns the ID it left with."""
    engine = node.engine()
    tasks = engine.task_containers(service_id=service_id)
    assert len(tasks) == 2, f"{node.name}'s engine runs {len(tasks)} task containers, not 2"
    node_id = local_swarm(node)["NodeID"]
    swarm_cluster.client(node).leave(force=force)
    assert local_swarm(node)["LocalNodeState"] == "inactive"

    def task_containers_gone() -> bool | None:
        left = engine.task_containers(service_id=service_id, running=False)
        return True if not left else None

    wait_until(
        task_containers_gone,
        what=f"the task containers on {node.name} to be removed after a "
        + ("forced" if force else "plain")
        + " leave",
        timeout_s=budgets.bound("mem-leave", "containers-gone").high or 30,
        timeout_error=promise_timeout,
    )
    return str(node_id)


# -- pending joins ----------------------------------------------------------------------------
@dataclass
class PendingJoin:
    """A join sent to a manager the joining node cannot reach (its packets to the manager are
    dropped), what it returned and when, and what the node and the managers said then."""

    returned_s: float | None = None
    error: EngineAPIError | None = None
    state_after: str | None = None
    listed_by: list[str] = field(default_factory=list)


def send_pending_join(
    swarm_cluster: Swarm, node: SwarmNode, manager: SwarmNode, rec: PendingJoin, token: str = ""
) -> None:
    """``node`` joins through ``manager`` (with the worker token unless ``token`` is given)
    while a partition drops what it sends there; the engine waits for its join
    (swarmConnectTimeout) and then answers."""
    token = token or lead_client(swarm_cluster).join_tokens()["worker"]
    clock = Stopwatch()
    with swarm_cluster.client(node, timeout_s=45) as client:  # the engine waits about 20 s
        try:
            where = f"{manager.ip}:{SWARM_PORT}"
            client.join(where, token, advertise_address(swarm_cluster, node), node.ip)
        except EngineAPIError as exc:
            rec.error = exc
        finally:
            rec.returned_s = clock()
    rec.state_after = local_swarm(node)["LocalNodeState"]
    rec.listed_by = [
        observer
        for observer, view in manager_views(swarm_cluster).items()
        if entries_of(view, node.name)
    ]


def make_pending(swarm_cluster: Swarm, node: SwarmNode) -> None:
    """``node`` joins an address where nothing answers and the client stops waiting after 3 s:
    the engine goes on joining in the background, as documented, and the node is pending."""
    token = lead_client(swarm_cluster).join_tokens()["worker"]
    nowhere = unused_address(swarm_cluster)  # inside the run's own node network; nothing answers
    with swarm_cluster.client(node, timeout_s=3) as impatient, pytest.raises(EngineUnreachable):
        impatient.join(f"{nowhere}:2377", token, advertise_address(swarm_cluster, node), node.ip)
    wait_local_state(node, "pending", timeout_s=10)


def judge_pending_join(rec: PendingJoin) -> None:
    """The documented answer to a join whose manager cannot be reached: the timeout error,
    after about 20 s (both sides of the catalog's bound), the node pending and unknown to
    the managers."""
    assert rec.returned_s is not None, "the join was not sent"
    if rec.error is None:
        raise SwarmPromiseBroken(
            "a join through a manager the node cannot reach was accepted",
            expected=f"HTTP 503 {JOIN_TIMEOUT!r} after about 20 s",
            seen=f"accepted after {rec.returned_s:.1f} s",
        )
    assert not isinstance(rec.error, EngineUnreachable), "the engine never answered"
    problems = []
    if rec.error.explanation != JOIN_TIMEOUT or rec.error.status_code != 503:
        problems.append(f"HTTP {rec.error.status_code} {rec.error.explanation!r}")
    timing = budgets.bound("mem-pending-join", "join-returns").judge(rec.returned_s)
    if timing:
        problems.append(timing)
    if rec.state_after != "pending":
        problems.append(f"LocalNodeState {rec.state_after} after the join returned")
    if rec.listed_by:
        problems.append(f"listed by {', '.join(rec.listed_by)} while pending")
    if problems:
        raise SwarmPromiseBroken(
            "a join through an unreachable manager did not time out as documented",
            expected=f"HTTP 503 {JOIN_TIMEOUT!r} after 15-30 s, the node pending and unlisted",
            seen="; ".join(problems),
        )


@pytest.mark.swarm(workers=1, capabilities=("partition",))
@pytest.mark.swarmcheck(
    id="SC-MEM-012",
    area="membership",
    doc=f"{CLI}/swarm/join/",
    title="a join to an unreachable manager times out after ~20 s pending, joins once the "
    "manager answers; a forced leave from pending: inactive",
    promise="A join to a manager that cannot be reached MUST return the documented timeout "
    "error after about 20 s (not sooner, not much later) and leave the node pending, the join "
    "MUST go on in the background and succeed once the manager answers, and a forced leave "
    "from pending MUST make the node inactive and keep its standalone containers.",
    rows=("mem-pending-join",),
    needs=(),
    effects=("membership", "stops"),
)
def test_pending_join_then_forced_leave(
    swarm_cluster: Swarm, outside: SwarmNode, swarm_figure: Recorder
) -> None:
    node = outside
    kept = standalone(swarm_cluster, node, "standalone-pending")
    manager = swarm_cluster.leader()
    rec = PendingJoin()
    cut = partition.one_way(swarm_cluster, node, manager).start()  # the node's packets go nowhere
    try:
        send_pending_join(swarm_cluster, node, manager, rec)
    finally:
        cut.stop()
    assert rec.returned_s is not None
    swarm_figure("join_returned_s", round(rec.returned_s, 2))
    judge_pending_join(rec)

    # "The attempt to join the swarm will continue in the background": healed, it joins.
    back = budgets.bound("mem-pending-join", "joins-when-back")
    clock = Stopwatch()
    info = wait_local_state(node, "active", timeout_s=back.high or 30)
    swarm_figure("joined_after_heal_s", round(clock(), 2))
    listed = wait_until(
        lambda: next(
            (i for i in lead_client(swarm_cluster).nodes() if i.id == info["NodeID"]), None
        ),
        what=f"the managers to list {node.name}, which joined in the background",
        timeout_s=10,
        timeout_error=promise_timeout,
    )
    assert (listed.role, listed.hostname) == ("worker", node.name), f"joined as {listed}"
    leave_swarm(swarm_cluster, node, force=True)

    # A forced leave from pending: inactive, and the standalone container keeps running.
    make_pending(swarm_cluster, node)
    swarm_cluster.client(node).leave(force=True)
    assert local_swarm(node)["LocalNodeState"] == "inactive"
    state = container_state(node, kept)
    assert state == "running", f"the standalone container is {state}"


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-MEM-013",
    area="membership",
    doc=f"{CLI}/swarm/join/",
    title="a daemon restarted while its join is pending comes back inactive",
    promise="A node whose engine restarts while a join is pending MUST come back inactive.",
    rows=("mem-pending-join",),
    needs=(),
    effects=("membership", "stops"),
)
def test_pending_join_does_not_survive_a_restart(swarm_cluster: Swarm, outside: SwarmNode) -> None:
    node = outside
    make_pending(swarm_cluster, node)
    # dockerd with a pending join does not stop on SIGTERM: killed after 2 s, then started
    with process.restart_node(swarm_cluster, node, grace_s=2):
        pass
    state = wait_engine_answers(node)["LocalNodeState"]
    assert state == "inactive", f"{node.name} is {state} after the restart"


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.swarm(workers=1, capabilities=("containers",))
@pytest.mark.swarmcheck(
    id="SC-MEM-014",
    area="membership",
    doc=f"{CLI}/swarm/init/",
    title="init/join with empty, 0.0.0.0 or already bound addresses is refused; stays inactive",
    promise="The engine MUST reject init and join requests with an empty listen or remote "
    "address, a 0.0.0.0 advertise or data path address, or a listen port already in use, with "
    "the documented errors, and MUST stay inactive.",
    rows=("mem-input-validation",),
    needs=(),
    effects=("membership",),
)
def test_bad_addresses_are_refused(swarm_cluster: Swarm, outside: SwarmNode) -> None:
    node = outside
    own = swarm_cluster.client(node)
    token = lead_client(swarm_cluster).join_tokens()["worker"]
    cases: list[tuple[str, EngineAPIError, int | None, str | None]] = [
        ("init, empty ListenAddr", refused(lambda: own.init(listen_addr=""), "init"), 400, None),
        (
            "join, empty RemoteAddrs entry",
            refused(lambda: own.join("", token), "a join with an empty address"),
            400,
            None,
        ),
        (
            "init, AdvertiseAddr 0.0.0.0",
            refused(lambda: own.init("0.0.0.0"), "init advertising 0.0.0.0"),
            400,
            "advertise address must be a non-zero IP address",
        ),
        (
            "init, DataPathAddr 0.0.0.0",
            refused(lambda: own.init(node.ip, data_path_addr="0.0.0.0"), "init, data path 0.0.0.0"),
            400,
            "data path address must be a non-zero IP address",
        ),
    ]
    # A standalone httpd on the node's own network stack holds port 8080.
    node.engine().run(
        workload_image(), network_mode="host", labels=run_labels(swarm_cluster.run_id, "standalone")
    )
    wait_listening(node, 8080)
    busy = refused(lambda: own.init(node.ip, "0.0.0.0:8080"), "init on a bound port")
    cases.append(("init, listen port already bound", busy, None, "address already in use"))
    problems = []
    for case, refusal, status, text in cases:
        if status is not None and refusal.status_code != status:
            problems.append(f"{case}: status {refusal.status_code}, not {status}")
        if text is not None and text not in refusal.explanation:
            problems.append(f"{case}: {refusal.explanation!r} lacks {text!r}")
    assert not problems, "\n".join(problems)
    assert local_swarm(node)["LocalNodeState"] == "inactive"


# -- roles and tokens -------------------------------------------------------------------------
@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-002",
    area="membership",
    doc=f"{DOCS}/swarm-tutorial/add-nodes/",
    title="node ls is refused on a worker, with the documented message",
    promise="A worker MUST refuse control-plane requests such as `node ls` with the documented "
    "message, while managers MUST answer them.",
    rows=("mem-join-worker",),
    needs=(),
    effects=("reads",),
)
def test_worker_cannot_list_nodes(swarm_cluster: Swarm, worker: SwarmNode) -> None:
    with pytest.raises(EngineAPIError) as refused:
        swarm_cluster.client(worker).nodes()
    assert WORKER_REFUSAL in refused.value.explanation, (
        f"unexpected refusal text: {refused.value.explanation!r}"
    )
    manager_view = swarm_cluster.client(swarm_cluster.managers[0]).nodes()
    assert len(manager_view) == swarm_cluster.spec.size


@pytest.mark.swarm(workers=1, capabilities=("containers",))
@pytest.mark.swarmcheck(
    id="SC-MEM-003",
    area="raft",
    doc=f"{DOCS}/manage-nodes/#promote-or-demote-a-node",
    title="promote: control plane and a swarm-manager certificate; demote: both gone",
    promise="Promoting a worker MUST give it control-plane access and a certificate with OU "
    "swarm-manager, and demoting it MUST take both away (OU swarm-worker).",
    rows=("raft-promote-demote",),
    needs=(),
    effects=("roles",),
)
def test_promote_and_demote(
    swarm_cluster: Swarm, worker: SwarmNode, swarm_figure: Recorder
) -> None:
    lead = swarm_cluster.leader_client()
    assert cert_ou(worker) == "swarm-worker"
    clock = Stopwatch()
    lead.update_node(worker.node_id, role="manager")
    # Docker's own test allows 30 s; swarmkit's 64 s (the new certificate takes a while).
    swarm_cluster.wait_control(worker, available=True, timeout_s=64)
    swarm_figure("promote_s", clock())
    assert len(swarm_cluster.client(worker).nodes()) == swarm_cluster.spec.size
    wait_until(
        lambda: True if cert_ou(worker) == "swarm-manager" else None,
        what=f"{worker.name}'s certificate OU to become swarm-manager",
        timeout_s=64,
        timeout_error=promise_timeout,
    )
    clock = Stopwatch()
    lead.update_node(worker.node_id, role="worker")
    swarm_cluster.wait_control(worker, available=False, timeout_s=64)
    swarm_figure("demote_s", clock())
    with pytest.raises(EngineAPIError, match="not a swarm manager"):
        swarm_cluster.client(worker).nodes()
    wait_until(
        lambda: True if cert_ou(worker) == "swarm-worker" else None,
        what=f"{worker.name}'s certificate OU to become swarm-worker",
        timeout_s=64,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-MEM-004",
    area="tokens-pki",
    doc=f"{CLI}/swarm/join-token/",
    title="worker and manager join tokens; each rotation refuses that role's old token only",
    promise="The swarm MUST issue distinct worker and manager join tokens; after a rotation of "
    "either it MUST refuse the old token of that role and accept the new one, while the other "
    "role's token and the existing nodes stay as they were.",
    rows=("tok-rotate",),
    needs=(),
    effects=("tokens", "membership", "stops"),
)
def test_join_token_rotation(swarm_cluster: Swarm, outside: SwarmNode) -> None:
    try:
        check_join_token_rotation(swarm_cluster, outside)
    finally:
        clean_engine(swarm_cluster, outside)  # it joined as a manager


def check_join_token_rotation(swarm_cluster: Swarm, node: SwarmNode) -> None:
    lead = lead_client(swarm_cluster)
    old = lead.join_tokens()
    assert old["worker"].startswith("SWMTKN-1-") and old["manager"].startswith("SWMTKN-1-")
    assert old["worker"] != old["manager"]
    members = {i.id: (i.role, i.hostname) for i in lead.nodes()}
    where, advertise = join_address(swarm_cluster), advertise_address(swarm_cluster, node)

    def refused_join(token: str, role: str) -> None:
        with pytest.raises(EngineAPIError) as refused:
            swarm_cluster.client(node).join(where, token, advertise, node.ip)
        assert TOKEN_REFUSED in refused.value.explanation, (
            f"the old {role} token: {refused.value.explanation}"
        )
        assert local_swarm(node)["LocalNodeState"] == "inactive"
        forget_node(swarm_cluster, node.name)

    new = {}
    for role, other in (("worker", "manager"), ("manager", "worker")):
        before = lead.join_tokens()
        new[role] = rotate_join_token(swarm_cluster, role)
        after = lead.join_tokens()
        assert new[role] != before[role], f"rotating the {role} token returned the same token"
        assert after[other] == before[other], f"rotating the {role} token changed the {other} one"
        refused_join(old[role], role)

    # The existing nodes are as they were: the same members and roles, one leader, all ready.
    views = manager_views(swarm_cluster)
    problems = view_problems(views, len(swarm_cluster.managers), len(swarm_cluster.workers) - 1)
    assert not problems, "after both rotations: " + "; ".join(problems)
    for observer, view in views.items():
        listed = {i.id: (i.role, i.hostname) for i in view}
        assert listed == members, f"{observer} lists {listed}, not {members}"

    # Each new token joins with its role.
    assert join_swarm(swarm_cluster, node, "worker").role == "worker"
    assert lead.join_tokens() == new, "the tokens changed while the node joined"
    leave_swarm(swarm_cluster, node)
    joined = join_swarm(swarm_cluster, node, "manager")
    assert (joined.role, joined.reachability) == ("manager", "reachable"), joined
