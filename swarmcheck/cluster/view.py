"""What any swarm looks like through its managers' engines: its nodes, its leader, whether it
is whole. Shared by both kinds of swarm (a local dind swarm, an existing one), which differ in
how they come up, reset and go, never in how they are read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Generic, TypeVar

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import NodeInfo, SwarmClient
from swarmcheck.cluster.health import Health, Member, View, current_managers, swarm_health
from swarmcheck.cluster.interface import SwarmNode
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmcheckError, SwarmRefused
from swarmcheck.timing import wait_until

READY_TIMEOUT_S = 60.0
HEALTH_ASK_TIMEOUT_S = 3.0
"""A manager that does not answer `node ls` within this is not whole (frozen, cut off)."""
ENGINE_ASK_TIMEOUT_S = 5.0

N = TypeVar("N", bound=SwarmNode)


def service_containers(
    node: SwarmNode, service: str, timeout_s: float = ENGINE_ASK_TIMEOUT_S
) -> frozenset[str] | None:
    """Ids of the running task containers of ``service`` that ``node``'s own engine lists;
    None when the engine does not answer within ``timeout_s`` (stopped, frozen, cut off)."""
    try:
        with node.engine(timeout_s) as engine:
            return frozenset(c.id for c in engine.task_containers(service))
    except EngineAPIError:
        return None


class SwarmView(Generic[N]):
    """The read side of a swarm of ``N`` nodes: a kind of swarm sets ``nodes`` and
    ``run_id``, and gets its views, its leader and its health from here."""

    nodes: list[N]
    run_id: str

    def node(self, name_or_id: str) -> N:
        for node in self.nodes:
            if name_or_id in (node.name, node.node_id):
                return node
        raise SwarmcheckError(f"no node {name_or_id!r} in this cluster: {self.names()}")

    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def managers(self) -> list[N]:
        return [n for n in self.nodes if n.role == "manager"]

    @property
    def workers(self) -> list[N]:
        return [n for n in self.nodes if n.role == "worker"]

    def client(self, node: SwarmNode | str, timeout_s: float | None = None) -> SwarmClient:
        """Swarm calls through one node's engine (able to read every engine, see
        ``running_service_containers``); with ``timeout_s``, a new short-timeout client
        the facade closes."""
        target = self.node(node) if isinstance(node, str) else node
        if timeout_s is None:
            return SwarmClient(target.name, target.client, engines=self.running_service_containers)
        return SwarmClient(
            target.name,
            target.quick_client(timeout_s),
            engines=self.running_service_containers,
            owned=True,
        )

    def leader_client(self) -> SwarmClient:
        """Swarm calls through the current leader (writes reach the Raft log directly)."""
        return self.client(self.leader())

    def running_service_containers(
        self, service: str, timeout_s: float = ENGINE_ASK_TIMEOUT_S
    ) -> dict[str, frozenset[str] | None]:
        """For each node (by swarm node ID), the ids of the running containers of ``service``
        its own engine lists; None for an engine that did not answer."""

        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            found = list(pool.map(lambda n: service_containers(n, service, timeout_s), self.nodes))
        return {n.node_id or n.name: f for n, f in zip(self.nodes, found, strict=True)}

    def node_list(self, via: SwarmNode | None = None, timeout_s: float = 5.0) -> list[NodeInfo]:
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

    def leader(self, timeout_s: float = 5.0) -> N:
        """The node the managers report as Leader.

        Raises EngineAPIError when no manager answers, SwarmRefused when the one that answers
        names no leader (an EngineAPIError too, so waits treat it as "not yet").
        """
        infos = self.node_list(timeout_s=timeout_s)
        for info in infos:
            if info.leader:
                return self.node(info.hostname)
        raise SwarmRefused(f"no manager reports a leader: {[i.hostname for i in infos]}")

    def wait_leader(self, timeout_s: float = 60.0, exclude: str | None = None) -> N:
        """Wait until a manager (other than ``exclude``) is reported Leader by a manager that
        answers; a timeout is a broken promise (``PromiseTimeout``): a swarm with a majority
        of managers up elects a leader."""

        def ask(node: N) -> N | None:
            try:
                for info in self.node_list(via=node, timeout_s=3):
                    if info.leader and info.hostname != exclude:
                        return self.node(info.hostname)
            except EngineAPIError:
                pass
            return None

        def probe() -> N | None:
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

    def wait_control(self, node: SwarmNode, available: bool, timeout_s: float = 30.0) -> None:
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

    def views(self, timeout_s: float = HEALTH_ASK_TIMEOUT_S) -> dict[str, View]:
        """`node ls` from every node that holds the manager role now (its error if it fails).

        Asks the nodes provisioned as managers first, then any other node their answers list
        as a manager (a promoted worker); a provisioned manager that is now a worker (demoted
        by a test) is not asked again.
        """
        asked: dict[str, View] = {}

        def ask(node: N) -> View:
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

    def rejoined(self, node: SwarmNode) -> str:
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
