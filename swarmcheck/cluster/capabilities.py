"""What the kernel under the nodes can do, detected at run time (never assumed)."""

from __future__ import annotations

from swarmcheck.cluster.node import Node


def ipvs_missing(node: Node) -> str | None:
    """Why the routing mesh and service VIPs cannot work here, or None when IPVS is there."""
    code, _ = node.exec("test -e /proc/net/ip_vs", timeout_s=10)
    if code == 0:
        return None
    return (
        "the kernel has no IPVS (/proc/net/ip_vs is missing in the node and nodes cannot "
        "load kernel modules): the ingress routing mesh and service VIPs cannot balance"
    )


def netem_missing(node: Node) -> str | None:
    """Why tc netem (delay, loss) cannot be used here, or None when it can."""
    code, out = node.exec(
        "ip link add sc-netem type dummy && tc qdisc add dev sc-netem root netem delay 1ms; "
        "rc=$?; ip link del sc-netem 2>/dev/null; exit $rc",
        timeout_s=10,
    )
    if code == 0:
        return None
    return (
        f"the kernel lacks the netem qdisc: {out.strip().splitlines()[-1] if out.strip() else code}"
    )
