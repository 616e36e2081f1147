"""What the kernel under the nodes can do, detected at run time (never assumed)."""

from __future__ import annotations

import gzip
import platform
from collections.abc import Callable, Mapping
from pathlib import Path

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


PROBES: Mapping[str, Callable[[Node], str | None]] = {
    "ipvs": ipvs_missing,
    "netem": netem_missing,
}
"""How to tell, inside a node, why a platform feature (a check's ``needs=``) is missing."""


def feature_missing(feature: str, node: Node) -> str | None:
    """Why ``feature`` is missing on the kernel under ``node``, or None when it is there."""
    reason = PROBES[feature](node)
    return f"needs {feature}: {reason}" if reason else None


def _module_files(release: str, name: str) -> list[Path]:
    root = Path("/lib/modules") / release
    return list(root.rglob(f"{name}.ko*")) if root.is_dir() else []


def _loaded(name: str) -> bool:
    try:
        modules = Path("/proc/modules").read_text()
    except OSError:
        return False
    return any(line.split(" ", 1)[0] == name for line in modules.splitlines())


def _built_in(option: str, release: str) -> bool | None:
    """Whether the kernel config says ``option=y``; None when no config can be read."""
    for path in (Path(f"/boot/config-{release}"), Path("/proc/config.gz")):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode(errors="replace")
        return f"{option}=y" in text.splitlines()
    return None


def host_feature(feature: str) -> str:
    """What this host's kernel says about a feature, without starting a node: "present",
    "missing: why", or "unknown until a run: why" (the nodes share this kernel)."""
    release = platform.release()
    module, option = {
        "ipvs": ("ip_vs", "CONFIG_IP_VS"),
        "netem": ("sch_netem", "CONFIG_NET_SCH_NETEM"),
    }[feature]
    if feature == "ipvs" and Path("/proc/net/ip_vs").exists():
        return "present (/proc/net/ip_vs)"
    if _loaded(module) or _built_in(option, release):
        return f"present ({module} in the kernel)"
    if _module_files(release, module):
        return (
            f"unknown until a run: the {module} module exists but is not loaded, and swarm "
            "nodes cannot load modules"
        )
    if feature == "ipvs" or _built_in(option, release) is False:
        return f"missing: no {module} in kernel {release} (not built in, no module to load)"
    return f"unknown until a run: kernel {release} does not say whether it has {module}"
