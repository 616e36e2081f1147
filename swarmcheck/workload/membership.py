"""Membership moves and views for checks: a node leaving and joining again, what every manager
and every engine says about the swarm, and expensive events recorded once for several checks.

Checks of membership, raft and quorum take nodes out of the shared swarm and put them back.
The helpers here always leave the swarm as the pool expects it: each node in it once (stale
entries of a node that left are removed), with the role it was provisioned with.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.x509.oid import NameOID

from swarmcheck.checkers.leaders import LeaderSample
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import NS, NodeInfo, SwarmClient
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmcheckError, SwarmPromiseBroken
from swarmcheck.timing import Stopwatch, boot_clock, hold, wait_until
from swarmcheck.workload import pki
from swarmcheck.workload.placement import promise_timeout

log = logging.getLogger("swarmcheck.workload")

PING_HEADER_API = (1, 42)
"""Engines whose API goes up to 1.42 (Docker 23.0) or later send the ``Swarm`` header on
``GET /_ping`` (unversioned: for any API version a client asks for). Older engines do not."""

DEFAULT_HEARTBEAT_S = 5.0
"""Docker's default dispatcher heartbeat period (`swarm init --dispatcher-heartbeat 5s`)."""


# -- what one engine says --------------------------------------------------------------------
def local_swarm(node: Node, timeout_s: float = 10.0) -> dict[str, Any]:
    """``docker info``'s Swarm section, read from the node's own engine."""
    client = node.quick_client(timeout_s)
    try:
        with translated(node.name):
            return dict(client.info()["Swarm"])
    finally:
        client.close()


def ping_swarm_header(node: Node) -> str | None:
    """The ``Swarm`` header of the node engine's ``GET /_ping`` (None when it sends none)."""
    client = node.quick_client(10)
    try:
        with translated(node.name):
            response = client.api.get(f"{client.api.base_url}/_ping")
            response.raise_for_status()
    finally:
        client.close()
    header = response.headers.get("Swarm")
    return str(header) if header is not None else None


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
    subject = pki.node_certificate(node).subject
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

    pki.update_swarm_spec(
        lead.docker, change, node=lead.node, title=f"set the dispatcher heartbeat to {period_s:g} s"
    )
    return previous[0]


def rotate_join_token(cluster: Cluster, role: str) -> str:
    """Rotate the ``role`` join token, keeping every other swarm setting; return the new token.

    docker-py's ``Swarm.update`` sends a partial spec, which resets the settings it leaves out
    (the dispatcher heartbeat, autolock); this, like ``SwarmClient.rotate_join_token``, sends
    the whole current spec back.
    """
    lead = lead_client(cluster)
    pki.update_swarm_spec(
        lead.docker,
        node=lead.node,
        rotate_worker_token=role == "worker",
        rotate_manager_token=role == "manager",
        title=f"rotate the {role} join token",
    )
    return lead.join_tokens()[role]


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


# -- observing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStateSample:
    """At ``t`` (seconds after the sampler started) ``observer`` listed ``hostname`` as
    ``state``, and named ``leader`` (None: none) as the leader."""

    t: float
    observer: str
    hostname: str
    state: str
    role: str
    leader: str | None


class NodeStateSampler:
    """Asks each of ``observers`` for the node list every ``interval_s`` (in a thread), with
    short timeouts so an election or a stopped manager costs a missing sample, never a hang."""

    def __init__(
        self,
        cluster: Cluster,
        observers: Sequence[Node],
        interval_s: float = 0.2,
        timeout_s: float = 2.0,
    ) -> None:
        self.cluster = cluster
        self.observers = list(observers)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.samples: list[NodeStateSample] = []
        self.leader_samples: list[LeaderSample] = []
        self.errors = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-state-sampler", daemon=True)

    def __enter__(self) -> NodeStateSampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s * (len(self.observers) + 2))

    def _run(self) -> None:
        while not self._stop.is_set():
            for node in self.observers:
                self._ask(node)
            self._stop.wait(self.interval_s)

    def _ask(self, node: Node) -> None:
        t_boot = boot_clock()
        t = time.monotonic() - self.started
        client = node.quick_client(self.timeout_s)
        try:
            infos = SwarmClient(node.name, client).nodes()
        except EngineAPIError:
            self.errors += 1
            return
        finally:
            client.close()
        # answered: a frozen manager answers late, from a later moment than its round's
        view = LeaderSample.of_view(
            t_boot, node.name, (i.hostname for i in infos if i.leader), answered=boot_clock()
        )
        self.leader_samples.append(view)
        leader = view.leader
        for info in infos:
            self.samples.append(
                NodeStateSample(t, node.name, info.hostname, info.state, info.role, leader)
            )


# -- expensive events, recorded once ---------------------------------------------------------
@dataclass
class EventRecord:
    """What one expensive event (a leader stop, a quorum loss, a full restart) showed, for
    several checks to judge, each its own promise.

    The event records as it goes; if a step fails, ``failure`` keeps why, and the checks whose
    part was recorded before still judge it while the others re-raise the failure.
    """

    timeline: list[str] = field(default_factory=list)
    failure: BaseException | None = None
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        """A line of the event's timeline (seconds since it began)."""
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    def now(self) -> float:
        return time.monotonic() - self.started

    def need(self, *parts: object) -> None:
        """Raise the event's failure when a part a check needs was never recorded."""
        if all(p is not None for p in parts):
            return
        if self.failure is not None:
            raise self.failure
        raise SwarmcheckError(f"the event did not record what this check needs:\n{self.story()}")

    def story(self) -> str:
        return "\n".join(self.timeline)


_RECORDS: dict[tuple[str, str], EventRecord] = {}
_RECORDS_LOCK = threading.Lock()
E = TypeVar("E", bound=EventRecord)


def recorded_once(cluster: Cluster, name: str, record: Callable[[E], None], blank: E) -> E:
    """Run the event ``name`` on ``cluster`` once, recording into ``blank``, and hand the same
    record to every check that asks for it on this cluster (a replaced cluster runs it again).

    An exception escaping ``record`` ends the event; it is kept in ``failure``.
    """
    key = (cluster.run_id, name)
    with _RECORDS_LOCK:
        known = _RECORDS.get(key)
    if known is not None:
        assert isinstance(known, type(blank))
        return known
    blank.started = time.monotonic()
    try:
        record(blank)
    except Exception as exc:
        blank.failure = exc
        blank.note(f"the event ended early: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    log.info("recorded event %s on %s:\n%s", name, cluster.run_id, blank.story())
    with _RECORDS_LOCK:
        _RECORDS[key] = blank
    return blank


def watch_node_down(
    client: SwarmClient,
    node: Node,
    silence: Callable[[], object],
    *,
    not_before_s: float,
    budget_s: float,
) -> float:
    """Silence ``node`` (``silence()`` starts a fault that ends its heartbeats; it may take a
    while, e.g. a graceful stop) and watch the managers' view of it meanwhile: it must not be
    down before ``not_before_s`` (every look until then says so) and must be down by
    ``budget_s``, both counted from just before the fault. Return when it was seen down. The
    caller heals the fault."""

    def state() -> str:
        return next(i.state for i in client.nodes() if i.id == node.node_id)

    failed: list[BaseException] = []

    def run() -> None:
        try:
            silence()
        except BaseException as exc:  # re-raised in the caller's thread below
            failed.append(exc)

    clock = Stopwatch()
    fault = threading.Thread(target=run, name=f"silence {node.name}", daemon=True)
    fault.start()
    try:
        hold(
            not_before_s,
            lambda: (
                f"{node.name} was reported down {clock():.1f} s after its heartbeats began to "
                f"end, before the heartbeat grace ({not_before_s:g} s)"
                if state() == "down"
                else None
            ),
            interval_s=0.2,
        )
    finally:
        fault.join()
    if failed:
        raise failed[0]
    wait_until(
        lambda: True if state() == "down" else None,
        what=f"{node.name} to be reported down within {budget_s:g} s of its heartbeats ending",
        timeout_s=max(0.1, budget_s - clock()),
        interval_s=0.2,
        timeout_error=promise_timeout,
    )
    return clock()
