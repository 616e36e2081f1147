"""A local swarm of dind nodes swarmcheck makes and owns: bring-up, reset and teardown.

It can do everything a check may ask of a swarm (``interface.CAPABILITIES``): its nodes are
containers swarmcheck started, on a network of its own. How it is read is shared with an
existing swarm (``view.SwarmView``).
"""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import ClassVar

import docker
from docker.models.resource import Model

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.cluster import reaper, sockets
from swarmcheck.cluster.controlplane import ControlPlaneProxy, start_control_plane_proxy
from swarmcheck.cluster.interface import EVERY_CAPABILITY
from swarmcheck.cluster.network import create_network, node_ip
from swarmcheck.cluster.node import Node, start_node
from swarmcheck.cluster.view import READY_TIMEOUT_S, SwarmView
from swarmcheck.errors import EngineAPIError, NotFound, SwarmcheckError
from swarmcheck.machine import images
from swarmcheck.machine.images import ClusterImages
from swarmcheck.spec import ClusterSpec
from swarmcheck.steps import step
from swarmcheck.timing import Stopwatch, wait_until

log = logging.getLogger("swarmcheck.cluster")

SWARM_PORT = 2377
_SPARE_INDEX = itertools.cycle(range(100, 200))
"""Addresses of spare nodes in the run's subnet (its swarm's nodes come first)."""
INNER_BIP = "10.210.0.1/24"
INNER_POOL = "10.211.0.0/16"


@dataclass
class Cluster(SwarmView[Node]):
    """A swarm of node containers on the run's own network."""

    capabilities: ClassVar[frozenset[str]] = EVERY_CAPABILITY
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

    def node(self, name_or_id: str) -> Node:
        """A node by name, swarm node ID or container name."""
        for node in self.nodes:
            if name_or_id == node.container_name:
                return node
        return super().node(name_or_id)

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
            node.engine().load_images(prepared.workload_tars)
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
        self.client(first).init(
            self._addr(first),
            f"0.0.0.0:{SWARM_PORT}",
            data_path_addr=first.ip,
            default_addr_pool=[self.spec.addr_pool],
            subnet_size=24,
            heartbeat_s=self.spec.heartbeat_s,
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

    def prepared_image(self, engine: str) -> str:
        """The node image this cluster's nodes of ``engine`` were started from."""
        if self.images is None:
            raise SwarmcheckError("the cluster was not brought up: no node image prepared")
        return self.images.image_for(engine)

    def engine_image(self, engine: str) -> str:
        """The node image of ``engine`` (a Debian suite or a dind image), found in the local
        engine or built now: what an upgrade replaces a node's engine with."""
        return images.engine_image(self.host, engine)

    @contextmanager
    def spare_node(self, name: str) -> Iterator[Node]:
        """A node container of its own on the run's network, outside the swarm, with the
        workload images loaded (a check makes a one-node swarm of it); removed afterwards."""
        if self.images is None:
            raise SwarmcheckError("the cluster was not brought up: no node image to start from")
        node = start_node(
            self.host,
            run_id=self.run_id,
            name=name,
            role="manager",
            image=self.images.node,
            network=self.network,
            ip=node_ip(self.subnet, next(_SPARE_INDEX)),
            entrypoint=images.node_entrypoint(),
            inner_bip=INNER_BIP,
            inner_pool=INNER_POOL,
        )
        try:
            with step(f"start a spare node {name}"):
                node.wait_engine()
                node.engine().load_images(self.images.workload_tars)
            yield node
        finally:
            node.close()
            # best effort: what stays is removed with the run, by its labels
            with suppress(EngineAPIError), translated(name):
                self.host.containers.get(node.container_name).remove(force=True, v=True)
            with suppress(EngineAPIError), translated(name):
                self.host.volumes.get(f"{node.container_name}-docker").remove(force=True)
            shutil.rmtree(sockets.run_dir(self.run_id) / name, ignore_errors=True)

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
