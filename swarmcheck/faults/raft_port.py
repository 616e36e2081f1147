"""Cut one manager off the swarm's Raft port only (2377/tcp), so its engine stays reachable.

``partition.isolate`` drops every packet between a node and its peers. This one drops only
TCP to and from port 2377 (Raft, forwarded control-API calls, dispatcher sessions) between the
node and its peers, and when managers advertise through the control-plane proxy, the proxy's
own address too (the proxy connects to the node from it). Gossip and the data path still
flow, and the node's engine answers its clients as before: a manager that was leader goes on
answering reads from its own store until it steps down (the stale-read probe of
docs/consistency.md). The rules go only on the cut-off node, in a chain of their own, and heal
like every partition (``partition.Partition``).
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.faults.base import FaultLog, node_of
from swarmcheck.faults.partition import Partition, endpoint

RAFT_PORT = 2377


def port_drop_rules(chain: str, addresses: Iterable[str], port: int) -> list[list[str]]:
    """iptables argv (without ``iptables -w``) dropping TCP between this node's ``port`` or a
    peer's ``port`` and each address, both ways: the node's connections to peers and their
    answers, the peers' connections to the node and its answers."""
    rules: list[list[str]] = []
    for address in dict.fromkeys(addresses):
        for side in ("-d", "-s"):
            for flag in ("--dport", "--sport"):
                rules.append(
                    ["-A", chain, side, address, "-p", "tcp", flag, str(port), "-j", "DROP"]
                )
    return rules


class RaftPortPartition(Partition):
    kind = "partition_raft_port"


def isolate_raft_port(
    cluster: Cluster, node: Node | str, port: int = RAFT_PORT, log: FaultLog | None = None
) -> Partition:
    """Drop ``node``'s TCP traffic on ``port`` with every other node (and the control-plane
    proxy); everything else still flows."""
    target = node_of(cluster, node)
    addresses: list[str] = []
    for peer in cluster.nodes:
        if peer.name != target.name:
            addresses.extend(endpoint(cluster, peer).addresses)
    if cluster.control_plane is not None:
        addresses.append(cluster.control_plane.ip)
    plan = {target.name: port_drop_rules("{chain}", addresses, port)}
    return RaftPortPartition(
        cluster, plan, (target.name,), {"node": target.name, "port": str(port)}, log
    )
