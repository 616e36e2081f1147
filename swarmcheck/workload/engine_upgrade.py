"""A rolling engine upgrade under load: every node upgraded one at a time while a client keeps
using a service, the way an operator upgrades a production swarm.

The client is the DNS-RR probe (``workload.probe``): a standalone container on an attachable
overlay network. It must never run on the node being upgraded (its own engine goes away), so a
``ProbeRelay`` moves it before that node is drained: a new probe starts on another node and
must answer before the old one stops. Their rounds are merged on the boot clock they share, so
a gap during a hand-over would still show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from swarmcheck.checkers.availability import Probe
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.cluster.upgrade import NodeUpgrade, upgrade_all, upgrade_order
from swarmcheck.errors import PromiseTimeout
from swarmcheck.machine.images import workload_image
from swarmcheck.steps import step
from swarmcheck.timing import wait_until
from swarmcheck.workload.probe import ServiceProbe
from swarmcheck.workload.service import PROBE_NETWORK, deploy_web_for_probes

PROBE_START_TIMEOUT_S = 30.0
"""A converged DNS-RR service answers a probe on its network (moby's 30 s reconciliation
budget): the client the upgrade must keep serving."""
ANSWERS_AROUND = 10
"""Answers the probe must see before the first node and after the last one (so the probe
demonstrably covered the whole upgrade)."""


@dataclass
class ProbeRelay:
    """A probe of ``service`` that moves to another node before its node is upgraded."""

    cluster: Cluster
    service: str = "web"
    network: str = PROBE_NETWORK
    current: ServiceProbe | None = None
    finished: list[Probe] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    """The nodes the probe ran on, in order."""

    def start_on(self, node: Node) -> None:
        """Start a probe on ``node``; once it answers, stop the previous one."""
        with step(f"probe {self.service} from {node.name}"):
            probe = ServiceProbe(
                node=node,
                network=self.network,
                service=self.service,
                image=workload_image("v1"),
                run_id=self.cluster.run_id,
            ).start()
            wait_until(
                lambda: True if sum(p.ok for p in probe.results()) >= 3 else None,
                what=f"the probe on {node.name} to get answers",
                timeout_s=PROBE_START_TIMEOUT_S,
                timeout_error=PromiseTimeout,
            )
            if self.current is not None:
                self.finished += self.current.stop()
            self.current = probe
            self.hosts.append(node.name)

    def move_off(self, node: Node, candidates: Sequence[Node]) -> None:
        """If the probe runs on ``node``, move it to the first of ``candidates`` besides it."""
        if self.current is not None and self.current.node is node:
            self.start_on(next(n for n in candidates if n is not node))

    def results(self) -> list[Probe]:
        assert self.current is not None, "probe not started"
        return sorted([*self.finished, *self.current.results()], key=lambda p: p.t)

    def stop(self) -> list[Probe]:
        """Stop the running probe; every round of every probe, in time order."""
        if self.current is not None:
            self.finished += self.current.stop()
            self.current = None
        return sorted(self.finished, key=lambda p: p.t)


@dataclass(frozen=True)
class UpgradeRun:
    """What a rolling engine upgrade did and what the client saw meanwhile."""

    upgrades: list[NodeUpgrade]
    probes: list[Probe]
    probe_hosts: list[str]


def _answers(relay: ProbeRelay, count: int, what: str) -> None:
    start = len(relay.results())
    wait_until(
        lambda: True if sum(p.ok for p in relay.results()[start:]) >= count else None,
        what=what,
        timeout_s=PROBE_START_TIMEOUT_S,
        timeout_error=PromiseTimeout,
    )


def rolling_engine_upgrade(
    cluster: Cluster,
    image: str,
    *,
    replicas: int = 3,
) -> UpgradeRun:
    """Deploy the probed web service (DNS-RR, health-checked), then upgrade every node to
    ``image`` one at a time (``cluster.upgrade``) while the probe keeps requesting it."""
    order = upgrade_order(cluster)
    deploy_web_for_probes(cluster, replicas)
    relay = ProbeRelay(cluster)
    relay.start_on(order[-1])  # the node upgraded last
    done: list[Node] = []

    def before(node: Node) -> None:
        # upgraded nodes are not upgraded again; otherwise the one upgraded last
        relay.move_off(node, [*done, *reversed(order)])

    def after(result: NodeUpgrade) -> None:
        done.append(cluster.node(result.node))

    try:
        _answers(relay, ANSWERS_AROUND, f"{ANSWERS_AROUND} answers before the upgrade")
        upgrades = upgrade_all(cluster, image, before_each=before, after_each=after, order=order)
        _answers(relay, ANSWERS_AROUND, f"{ANSWERS_AROUND} answers after the upgrade")
    finally:
        probes = relay.stop()
    return UpgradeRun(upgrades, probes, relay.hosts)
