"""Membership (catalog area ``membership``): a node leaving and joining again, the join
addresses and tokens, and what every manager and every engine says about the swarm.

Checks of membership, raft and quorum take nodes out of the shared swarm and put them back.
The helpers here always leave the swarm as the pool expects it: each node in it once (stale
entries of a node that left are removed), with the role it was provisioned with.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.x509.oid import NameOID

from swarmcheck.client.errors import translated
from swarmcheck.client.specs import NS
from swarmcheck.client.swarm import NodeInfo, SwarmClient
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.cluster.interface import SwarmNode
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmcheckError, SwarmPromiseBroken
from swarmcheck.operations import tokens_pki
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.timing import wait_until

log = logging.getLogger("swarmcheck.workload")

PING_HEADER_API = (1, 42)
"""Engines whose API goes up to 1.42 (Docker 23.0) or later send the ``Swarm`` header on
``GET /_ping`` (unversioned: for any API version a client asks for). Older engines do not."""

DEFAULT_HEARTBEAT_S = 5.0
"""Docker's default dispatcher heartbeat period (`swarm init --dispatcher-heartbeat 5s`)."""


# -- what one engine says --------------------------------------------------------------------
def local_swarm(node: SwarmNode, timeout_s: float = 10.0) -> dict[str, Any]:
    """``docker info``'s Swarm section, read from the node's own engine."""
    with node.engine(timeout_s) as engine:
        return engine.swarm_info()


def ping_swarm_header(node: SwarmNode) -> str | None:
    """The ``Swarm`` header of the node engine's ``GET /_ping`` (None when it sends none)."""
    with node.engine(10) as engine:
        return engine.ping_swarm_header()


def sends_ping_swarm_header(node: Node) -> bool:
    """Whether the node's engine is recent enough to send the ``/_ping`` Swarm header."""
    version = node.api_version or "0.0"
    return tuple(int(p) for p in version.split(".")[:2]) >= PING_HEADER_API


def judge_ping_header(node: Node, header: str | None, expected: str) -> str:
    """Judge a ``/_ping`` Swarm header read from ``node``: it must say ``expected`` on engines
    that send it. Returns what was seen (``"not sent (...)"`` on engines older than it)."""
    if header is None and not sends_ping_swarm_header(node):
        return f"not sent (engine API {node.api_version} predates it)"
    if header != expected:
        raise SwarmPromiseBroken(
            f"{node.name}'s GET /_ping Swarm header is wrong",
            expected=repr(expected),
            seen=repr(header),
        )
    return header


def wait_local_state(node: Node, state: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """Wait until the node's engine reports LocalNodeState ``state``; return its Swarm info."""

    def probe() -> dict[str, Any] | None:
        info = local_swarm(node)
        return info if info.get("LocalNodeState") == state else None

    return wait_until(
        probe,
        what=f"{node.name} LocalNodeState={state}",
        timeout_s=timeout_s,
        timeout_error=promise_timeout,
    )


def wait_engine_answers(node: Node, timeout_s: float = 60.0) -> dict[str, Any]:
    """Wait until the node's engine answers again (its container restarted); return its Swarm
    info. The engine coming up is the environment, not a promise: a ``ReadinessTimeout``."""
    return wait_until(
        lambda: local_swarm(node), what=f"{node.name}'s engine to answer", timeout_s=timeout_s
    )


def cert_ou(node: Node) -> str:
    """The OU of the node's swarm TLS certificate: its role as the CA signed it."""
    subject = tokens_pki.node_certificate(node).subject
    units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if len(units) != 1:
        raise SwarmcheckError(f"{node.name}'s certificate subject has no single OU: {subject}")
    return str(units[0].value)


# -- what the managers say -------------------------------------------------------------------
def lead_client(cluster: Cluster, timeout_s: float = 30.0) -> SwarmClient:
    """A client of the current leader (waits for one, e.g. right after a membership change)."""
    return cluster.client(cluster.wait_leader(timeout_s=timeout_s))


def manager_views(
    cluster: Cluster, managers: Sequence[Node] | None = None, timeout_s: float = 10.0
) -> dict[str, list[NodeInfo]]:
    """`docker node ls` as each manager (by default every provisioned manager) sees it."""
    views = {}
    for manager in managers or cluster.managers:
        client = manager.quick_client(timeout_s)
        try:
            views[manager.name] = SwarmClient(manager.name, client).nodes()
        finally:
            client.close()
    return views


def view_problems(
    views: dict[str, list[NodeInfo]],
    managers: int,
    workers: int,
    leader: str | None = None,
) -> list[str]:
    """What keeps the managers' views from the steady state Raft promises: exactly one leader
    that every manager names (``leader`` if given), ManagerStatus on managers only, managers
    reachable, every node ready and active, and ``managers``/``workers`` counts everywhere."""
    problems = []
    named = set()
    for observer, view in views.items():
        leaders = [i.hostname for i in view if i.leader]
        if len(leaders) != 1:
            problems.append(f"{observer} sees leader(s) {leaders or 'none'}")
        named.update(leaders)
        counts = (
            sum(i.role == "manager" for i in view),
            sum(i.role == "worker" for i in view),
        )
        if counts != (managers, workers):
            problems.append(f"{observer} counts {counts[0]} managers, {counts[1]} workers")
        for i in view:
            if (i.role == "manager") != (i.reachability is not None):
                problems.append(f"{observer}: {i.hostname} is a {i.role} with {i.reachability=}")
            elif i.role == "manager" and i.reachability != "reachable":
                problems.append(f"{observer}: manager {i.hostname} is {i.reachability}")
            if (i.state, i.availability) != ("ready", "active"):
                problems.append(f"{observer}: {i.hostname} is {i.state}/{i.availability}")
    if len(named) > 1:
        problems.append(f"the managers name different leaders: {sorted(named)}")
    if leader is not None and named and named != {leader}:
        problems.append(f"the leader is {sorted(named)}, not {leader}")
    return problems


def wait_views(
    cluster: Cluster,
    settled: Callable[[dict[str, list[NodeInfo]]], list[str]],
    *,
    what: str,
    timeout_s: float,
    managers: Sequence[Node] | None = None,
) -> dict[str, list[NodeInfo]]:
    """Poll every manager's node list until ``settled(views)`` finds no problem; return the
    views. A timeout is a broken promise showing the last problems seen."""
    last: list[str] = []

    def probe() -> dict[str, list[NodeInfo]] | None:
        views = manager_views(cluster, managers, timeout_s=5)
        last[:] = settled(views)
        return views if not last else None

    def broken(waited: str, timeout: float, error: str | None) -> PromiseTimeout:
        return PromiseTimeout(waited, timeout, "; ".join(last) or error or "no manager answered")

    return wait_until(probe, what=what, timeout_s=timeout_s, interval_s=0.3, timeout_error=broken)


def entries_of(view: Sequence[NodeInfo], hostname: str) -> list[NodeInfo]:
    return [i for i in view if i.hostname == hostname]


def join_address(cluster: Cluster) -> str:
    """The leader's advertised control-plane address: where a node joins."""
    for info in cluster.node_list():
        if info.leader and info.manager_addr:
            return info.manager_addr
    raise EngineAPIError("no manager reports a leader with an address")


def advertise_address(cluster: Cluster, node: Node) -> str:
    """Where ``node`` advertises its control plane (its own IP, or its proxy)."""
    return cluster.advertise_addr(node) if cluster.advertise_addr else f"{node.ip}:{SWARM_PORT}"


def set_dispatcher_heartbeat(cluster: Cluster, period_s: float) -> float:
    """Set the swarm's dispatcher heartbeat period (it applies live); return the previous one.
    The whole spec is written back, so no other setting changes."""
    lead = lead_client(cluster)
    previous: list[float] = []

    def change(spec: dict[str, Any]) -> None:
        dispatcher = spec.setdefault("Dispatcher", {})
        previous.append(int(dispatcher.get("HeartbeatPeriod") or DEFAULT_HEARTBEAT_S * NS) / NS)
        dispatcher["HeartbeatPeriod"] = int(period_s * NS)

    tokens_pki.update_swarm_spec(
        lead, change, title=f"set the dispatcher heartbeat to {period_s:g} s"
    )
    return previous[0]


def rotate_join_token(cluster: Cluster, role: str) -> str:
    """Rotate the ``role`` join token through the leader, keeping every other swarm setting
    (``SwarmClient.rotate_join_token``); return the new token."""
    return lead_client(cluster).rotate_join_token(role)


def unused_address(cluster: Cluster) -> str:
    """An address inside the run's own node network that nothing answers on: a join or an
    advertise address there can never connect (traffic stays on the run's bridge)."""
    with translated():
        attrs = cluster.host.networks.get(cluster.network).attrs
    used = {
        str(c.get("IPv4Address", "")).split("/")[0]
        for c in (attrs.get("Containers") or {}).values()
    }
    used |= {n.ip for n in cluster.nodes}
    hosts = list(ipaddress.ip_network(cluster.subnet).hosts())
    for candidate in reversed(hosts[len(cluster.nodes) + 20 :]):
        if str(candidate) not in used:
            return str(candidate)
    raise SwarmcheckError(f"no unused address left in {cluster.subnet}")


# -- leaving and joining ---------------------------------------------------------------------
def forget_node(cluster: Cluster, hostname: str, keep_id: str = "") -> list[str]:
    """Force-remove every node entry named ``hostname`` except ``keep_id`` (entries a node
    leaves behind when it leaves); return the removed ids."""
    lead = lead_client(cluster)
    stale = [i for i in lead.nodes() if i.hostname == hostname and i.id != keep_id]
    for entry in stale:
        if entry.reachability is not None:  # a raft member that left: out of raft first

            def demoted(node_id: str = entry.id) -> bool:
                try:
                    lead.update_node(node_id, role="worker")
                except EngineAPIError as exc:
                    if "can't find manager in raft memberlist" not in exc.explanation:
                        raise
                return True

            wait_until(
                demoted,
                what=f"the demotion of {hostname}'s old entry",
                timeout_s=30,
                timeout_error=promise_timeout,
            )
        try:
            lead.remove_node(entry.id, force=True)
        except EngineAPIError as exc:
            if exc.status_code != 404:
                raise
    return [e.id for e in stale]


def leave_swarm(cluster: Cluster, node: Node, force: bool = False) -> None:
    """The node leaves (``docker swarm leave``); its entry is removed from the swarm."""
    cluster.client(node).leave(force=force)
    wait_local_state(node, "inactive")
    forget_node(cluster, node.name)


def join_swarm(cluster: Cluster, node: Node, role: str, timeout_s: float = 30.0) -> NodeInfo:
    """The node joins with the ``role`` token; wait until the managers list it ready (and
    reachable, for a manager); return its entry."""
    lead = lead_client(cluster)
    token = lead.join_tokens()[role]
    cluster.client(node).join(
        join_address(cluster), token, advertise_address(cluster, node), node.ip
    )
    node_id = str(local_swarm(node)["NodeID"])

    def listed() -> NodeInfo | None:
        for info in lead.nodes():
            settled = role == "worker" or info.reachability == "reachable"
            if info.id == node_id and info.state == "ready" and info.role == role and settled:
                return info
        return None

    info = wait_until(
        listed,
        what=f"{node.name} to be listed as a ready {role}",
        timeout_s=timeout_s,
        timeout_error=promise_timeout,
    )
    node.node_id = info.id
    forget_node(cluster, node.name, keep_id=info.id)
    return info


def restore_membership(cluster: Cluster, node: Node) -> None:
    """Put ``node`` back in the cluster with its provisioned role, whatever a check left it as:
    out of the swarm, pending, in a swarm of its own, or in this one with another role."""
    state = wait_engine_answers(node)
    lead = lead_client(cluster)
    ours = {i.id: i for i in lead.nodes()}
    if state["LocalNodeState"] != "inactive" and state.get("NodeID") not in ours:
        cluster.client(node).leave(force=True)
        state = wait_local_state(node, "inactive")
    if state["LocalNodeState"] == "inactive":
        forget_node(cluster, node.name)
        join_swarm(cluster, node, node.role)
        return
    mine = ours[str(state["NodeID"])]
    node.node_id = mine.id
    if mine.role != node.role:
        lead.update_node(mine.id, role=node.role)
        cluster.wait_control(node, available=node.role == "manager", timeout_s=64)
        # The node holds its new role for good (a restart keeps it) once its certificate
        # says so: ControlAvailable changes first.
        wait_until(
            lambda: True if cert_ou(node) == f"swarm-{node.role}" else None,
            what=f"{node.name}'s certificate to say swarm-{node.role}",
            timeout_s=64,
            transient=(EngineAPIError, SwarmcheckError),
            timeout_error=promise_timeout,
        )
    forget_node(cluster, node.name, keep_id=mine.id)
