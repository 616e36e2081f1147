"""A running swarm of dind nodes: bring-up, the typed view suites use, reset and teardown."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
from docker.models.resource import Model

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import NS, NodeInfo, SwarmClient
from swarmcheck.cluster import reaper, sockets
from swarmcheck.cluster.controlplane import ControlPlaneProxy, start_control_plane_proxy
from swarmcheck.cluster.health import Health, Member, View, current_managers, swarm_health
from swarmcheck.cluster.network import create_network, node_ip
from swarmcheck.cluster.node import Node, start_node
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import (
    EngineAPIError,
    NotFound,
    PromiseTimeout,
    SwarmcheckError,
    SwarmRefused,
)
from swarmcheck.machine import images
from swarmcheck.machine.images import ClusterImages
from swarmcheck.steps import step
from swarmcheck.timing import Stopwatch, wait_until

log = logging.getLogger("swarmcheck.cluster")

SWARM_PORT = 2377
READY_TIMEOUT_S = 60.0
HEALTH_ASK_TIMEOUT_S = 3.0
"""A manager that does not answer `node ls` within this is not whole (frozen, cut off)."""
ENGINE_ASK_TIMEOUT_S = 5.0
INNER_BIP = "10.210.0.1/24"
INNER_POOL = "10.211.0.0/16"


@dataclass
class Cluster:
    """A swarm of node containers on the run's own network."""

    spec: ClusterSpec
    run_id: str
    host: docker.DockerClient = field(repr=False)
    network: str = ""
    subnet: str = ""
    nodes: list[Node] = field(default_factory=list)
    engine_version: str = ""
    engine_versions: dict[str, str] = field(default_factory=dict)
    """Each node's engine version, by node name (they differ in a mixed-version swarm)."""
    images: ClusterImages | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    dirty: str | None = None
    """Why this cluster can no longer be trusted (None while it can)."""
    advertise_addr: Callable[[Node], str] | None = field(default=None, repr=False)
    """Where managers advertise the control plane (a Toxiproxy proxy); None: their own IP."""
    control_plane: ControlPlaneProxy | None = field(default=None, repr=False)
    """The Toxiproxy carrying the managers' control plane (``spec.control_plane_proxy``)."""
    before_swarm: Callable[[Cluster], None] | None = field(default=None, repr=False)
    """Called once the nodes are up, just before the swarm forms."""

    # -- views ---------------------------------------------------------------------------
    def node(self, name_or_id: str) -> Node:
        for node in self.nodes:
            if name_or_id in (node.name, node.node_id, node.container_name):
                return node
        raise SwarmcheckError(f"no node {name_or_id!r} in this cluster: {self.names()}")

    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def managers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "manager"]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "worker"]

    def client(self, node: Node | str) -> SwarmClient:
        """Swarm calls through one node's engine (able to read every engine, see
        ``running_service_containers``)."""
        target = self.node(node) if isinstance(node, str) else node
        return SwarmClient(target.name, target.client, engines=self.running_service_containers)

    def leader_client(self) -> SwarmClient:
        """Swarm calls through the current leader (writes reach the Raft log directly)."""
        return self.client(self.leader())

    def running_service_containers(
        self, service: str, timeout_s: float = ENGINE_ASK_TIMEOUT_S
    ) -> dict[str, frozenset[str] | None]:
        """For each node (by swarm node ID), the ids of the running containers of ``service``
        its own engine lists; None for an engine that did not answer."""

        def ask(node: Node) -> frozenset[str] | None:
            client = node.quick_client(timeout_s)
            try:
                with translated(node.name):
                    found = client.api.containers(
                        filters={
                            "label": f"com.docker.swarm.service.name={service}",
                            "status": "running",
                        }
                    )
                return frozenset(str(c["Id"]) for c in found)
            except EngineAPIError:
                return None
            finally:
                client.close()

        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            found = list(pool.map(ask, self.nodes))
        return {n.node_id or n.name: f for n, f in zip(self.nodes, found, strict=True)}

    def node_list(self, via: Node | None = None, timeout_s: float = 5.0) -> list[NodeInfo]:
        """`docker node ls` from ``via`` or from the first manager that answers."""
        candidates = [via] if via else self.managers
        last: Exception | None = None
        for node in candidates:
            client = node.quick_client(timeout_s)
            try:
                return SwarmClient(node.name, client).nodes()
            except EngineAPIError as exc:
                last = exc
            finally:
                client.close()
        raise EngineAPIError(f"no manager answered `node ls`: {last}")

    def leader(self, timeout_s: float = 5.0) -> Node:
        """The node the managers report as Leader.

        Raises EngineAPIError when no manager answers, SwarmRefused when the one that answers
        names no leader (an EngineAPIError too, so waits treat it as "not yet").
        """
        infos = self.node_list(timeout_s=timeout_s)
        for info in infos:
            if info.leader:
                return self.node(info.hostname)
        raise SwarmRefused(f"no manager reports a leader: {[i.hostname for i in infos]}")

    def wait_leader(self, timeout_s: float = 60.0, exclude: str | None = None) -> Node:
        """Wait until a manager (other than ``exclude``) is reported Leader by a manager that
        answers; a timeout is a broken promise (``PromiseTimeout``): a swarm with a majority
        of managers up elects a leader."""

        def ask(node: Node) -> Node | None:
            try:
                for info in self.node_list(via=node, timeout_s=3):
                    if info.leader and info.hostname != exclude:
                        return self.node(info.hostname)
            except EngineAPIError:
                pass
            return None

        def probe() -> Node | None:
            # The managers are asked at once: while there is no leader, `node ls` on a manager
            # can hang until its timeout, and asking them one after the other added that wait
            # to the measured failover time.
            candidates = [n for n in self.managers if n.name != exclude]
            pool = ThreadPoolExecutor(max_workers=max(1, len(candidates)))
            try:
                for done in as_completed([pool.submit(ask, n) for n in candidates]):
                    found = done.result()
                    if found is not None:
                        return found
                return None
            finally:
                pool.shutdown(wait=False, cancel_futures=True)

        what = "a leader" + (f" other than {exclude}" if exclude else "")
        return wait_until(probe, what=what, timeout_s=timeout_s, timeout_error=PromiseTimeout)

    def wait_control(self, node: Node, available: bool, timeout_s: float = 30.0) -> None:
        """Wait until a node's own engine says it is (or is no longer) a manager."""
        wait_until(
            lambda: True if node.client.info()["Swarm"]["ControlAvailable"] is available else None,
            what=f"{node.name} ControlAvailable={available}",
            timeout_s=timeout_s,
            timeout_error=PromiseTimeout,
        )

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every node's dockerd log, for errors and reports."""
        return "\n".join(f"== {n.name} ==\n{n.daemon_log_tail(lines)}" for n in self.nodes)

    # -- bring-up ------------------------------------------------------------------------
    def up(self, prepared: ClusterImages) -> Cluster:
        """Start the nodes, form the swarm, load the workload; wait until every node is Ready."""
        with step(
            f"bring up a swarm of {self.spec.managers} managers and {self.spec.workers} workers"
        ):
            return self._up(prepared)

    def _up(self, prepared: ClusterImages) -> Cluster:
        self.images = prepared
        clock = Stopwatch()
        sockets.check_local_engine(self.host.api.base_url)
        self.network, self.subnet = create_network(self.host, self.run_id, self.spec.subnet)
        names = self.spec.node_names()
        engines = self.spec.node_engines()
        entrypoint = images.node_entrypoint()

        def boot(index: int) -> tuple[Node, str]:
            name = names[index]
            node = start_node(
                self.host,
                run_id=self.run_id,
                name=name,
                role="manager" if index < self.spec.managers else "worker",
                image=prepared.image_for(engines[index]),
                network=self.network,
                ip=node_ip(self.subnet, index),
                entrypoint=entrypoint,
                inner_bip=INNER_BIP,
                inner_pool=INNER_POOL,
            )
            self.nodes.append(node)
            version = node.wait_engine()
            with translated(name):
                for tar in prepared.workload_tars:
                    node.client.images.load(tar)
            return node, version

        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            booted = list(pool.map(boot, range(len(names))))
        self.nodes.sort(key=lambda n: names.index(n.name))
        self.engine_version = booted[0][1]
        self.engine_versions = {node.name: version for node, version in booted}
        self.timings["nodes_up_s"] = clock()
        if self.spec.control_plane_proxy and self.control_plane is None:
            self._route_control_plane(prepared)
        if self.before_swarm is not None:
            self.before_swarm(self)
        self._form_swarm()
        self.wait_healthy(READY_TIMEOUT_S)
        self.timings["ready_s"] = clock()
        log.info("swarm %s ready in %.1f s: %s", self.run_id, clock(), self.names())
        log.info(
            "reach a node by hand: DOCKER_HOST=unix://%s docker node ls",
            self.managers[0].api_socket,
        )
        return self

    def _route_control_plane(self, prepared: ClusterImages) -> None:
        """Start the control plane's Toxiproxy; managers then advertise through it."""
        self.control_plane = start_control_plane_proxy(
            self.host,
            run_id=self.run_id,
            network=self.network,
            subnet=self.subnet,
            managers=self.managers,
            helper_image=prepared.node,
            image=self.spec.toxiproxy_image,
        )
        self.advertise_addr = self.control_plane.advertise_addr

    def _addr(self, node: Node) -> str:
        return self.advertise_addr(node) if self.advertise_addr else f"{node.ip}:{SWARM_PORT}"

    def _form_swarm(self) -> None:
        first = self.managers[0]
        with translated(first.name, swarm=True):
            first.client.swarm.init(
                advertise_addr=self._addr(first),
                listen_addr=f"0.0.0.0:{SWARM_PORT}",
                data_path_addr=first.ip,
                default_addr_pool=[self.spec.addr_pool],
                subnet_size=24,
                dispatcher_heartbeat_period=int(self.spec.heartbeat_s * NS),
            )
        tokens = self.client(first).join_tokens()

        def join(node: Node) -> None:
            self.client(node).join(self._addr(first), tokens[node.role], self._addr(node), node.ip)

        # Managers one at a time (each raft membership change settles first), workers together.
        for node in self.managers[1:]:
            join(node)
        if self.workers:
            with ThreadPoolExecutor(max_workers=len(self.workers)) as pool:
                list(pool.map(join, self.workers))

    def views(self, timeout_s: float = HEALTH_ASK_TIMEOUT_S) -> dict[str, View]:
        """`node ls` from every node that holds the manager role now (its error if it fails).

        Asks the nodes provisioned as managers first, then any other node their answers list
        as a manager (a promoted worker); a provisioned manager that is now a worker (demoted
        by a test) is not asked again.
        """
        asked: dict[str, View] = {}

        def ask(node: Node) -> View:
            client = node.quick_client(timeout_s)
            try:
                return SwarmClient(node.name, client).nodes()
            except EngineAPIError as exc:
                return (str(exc).splitlines() or ["no answer"])[0][:200]
            finally:
                client.close()

        pending = [n for n in self.nodes if n.role == "manager"]
        while pending:
            with ThreadPoolExecutor(max_workers=len(pending)) as pool:
                asked.update(zip([n.name for n in pending], pool.map(ask, pending), strict=True))
            now = current_managers(asked)
            pending = [n for n in self.nodes if n.name in now and n.name not in asked]
        now = current_managers(asked)
        # A provisioned manager every answering view lists as a worker is not a manager now.
        return {k: v for k, v in asked.items() if k in now or not now}

    def health(self) -> Health:
        """Whether the swarm is whole, judged from every current manager's view (see
        ``cluster.health``). Learns the swarm IDs of nodes that have none yet; never replaces
        one (a test that makes a node rejoin sets its new ID itself)."""
        health = swarm_health([Member(n.name, n.node_id) for n in self.nodes], self.views())
        for name, node_id in health.learned_ids.items():
            node = self.node(name)
            if not node.node_id:
                node.node_id = node_id
        return health

    def rejoined(self, node: Node) -> str:
        """Record that ``node`` joined the swarm again on purpose (a new member, a new swarm
        ID): the ID its own engine now reports becomes its ID. Health checks never adopt a new
        ID by themselves: a node that comes back under another ID without a test saying so is
        not the same node healed."""
        with translated(node.name):
            node_id = str(node.client.info()["Swarm"]["NodeID"])
        if not node_id:
            raise SwarmcheckError(f"{node.name} is in no swarm: it has no swarm ID to record")
        node.node_id = node_id
        return node_id

    def health_problems(self) -> list[str]:
        """What keeps this swarm from being whole (empty when it is whole)."""
        return list(self.health().problems)

    def wait_healthy(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until the swarm is whole: every node listed once under its ID and Ready, every
        manager reachable and answering, one leader that every manager names.

        A swarm that does not get whole within ``timeout_s`` broke a documented promise (nodes
        join and are Ready within seconds; moby waits 5 s for the ready count, 30 s in its
        post-chaos ``checkClusterHealth``): ``PromiseTimeout``, with the problems last seen.
        """
        last: list[str] = []

        def probe() -> bool | None:
            last[:] = self.health_problems()
            return True if not last else None

        def broken(what: str, waited_s: float, _: str | None) -> PromiseTimeout:
            return PromiseTimeout(what, waited_s, "; ".join(last), log_tail=self.log_tails())

        wait_until(
            probe,
            what=f"swarm {self.run_id} to be whole",
            timeout_s=timeout_s,
            timeout_error=broken,
        )

    # -- between tests -------------------------------------------------------------------
    def reset(self) -> None:
        """Remove what tests made (services, secrets, configs, networks, stray containers) and
        restore node roles, availability and labels, so the next test starts clean."""
        with step("reset the swarm for the next test"):
            self._reset()

    def _reset(self) -> None:
        lead = self.leader_client()
        d = lead.docker
        with translated(lead.node):
            services = d.services.list()
        self._remove_all(services, lead.node)
        # Standalone containers tests made (probes) hold endpoints on attachable networks:
        # they go before the networks, or a network removal waits for them in vain.
        self._remove_containers(labels.RUN)
        with translated(lead.node):
            rest = [*d.secrets.list(), *d.configs.list()]
            rest += [n for n in d.networks.list(filters={"scope": "swarm"}) if n.name != "ingress"]
        self._remove_all(rest, lead.node)
        for info in lead.nodes():
            node = self.node(info.hostname)
            if info.role != node.role or info.availability != "active" or info.labels:
                lead.update_node(info.id, role=node.role, availability="active", node_labels={})
        # Task containers of the removed services that agents have not cleaned up yet: gone
        # now, not during the next test.
        self._remove_containers("com.docker.swarm.service.id")

    @staticmethod
    def _remove_all(objects: list[Model], via: str) -> None:
        for obj in objects:
            wait_until(
                functools.partial(remove_or_retry, obj),
                what=f"removal of {obj.name}",
                timeout_s=15,
                interval_s=0.1,
                node=via,
            )

    def _remove_containers(self, label: str) -> None:
        """Remove every container with ``label`` on every node's engine. Listed without
        inspecting each (an agent may be removing one at the same moment); one already gone,
        or whose removal the agent has already started (409), needs nothing more."""
        for node in self.nodes:
            with translated(node.name):
                found = node.client.api.containers(all=True, filters={"label": label})
            for container in found:
                try:
                    with translated(node.name):
                        node.client.api.remove_container(container["Id"], force=True)
                except NotFound:
                    continue
                except EngineAPIError as exc:
                    if exc.status_code != 409:
                        raise

    # -- teardown ------------------------------------------------------------------------
    def down(self) -> reaper.Removed:
        """Remove every container, network and volume of this cluster."""
        for node in self.nodes:
            node.close()
        return reaper.remove_run(self.host, self.run_id)


def remove_or_retry(obj: Model) -> bool | None:
    """Remove a service, secret, config or network; None (try again) while it is in use."""
    try:
        with translated():
            obj.remove()
    except NotFound:
        return True
    except EngineAPIError as exc:
        if "not found" in exc.explanation or "No such" in exc.explanation:
            return True
        return None
    return True


@contextmanager
def running_cluster(
    host: docker.DockerClient, spec: ClusterSpec, prepared: ClusterImages, run_id: str | None = None
) -> Iterator[Cluster]:
    """A cluster that is always removed, whether its body passes, fails or is interrupted."""
    cluster = Cluster(spec=spec, run_id=run_id or labels.new_run_id(), host=host)
    try:
        yield cluster.up(prepared)
    finally:
        started = time.monotonic()
        removed = cluster.down()
        log.info(
            "cluster %s removed (%s) in %.1f s", cluster.run_id, removed, time.monotonic() - started
        )
