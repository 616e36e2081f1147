"""Network partitions between swarm nodes, made with iptables inside the node containers.

Each node gets one hook chain, ``SWARMCHECK``, jumped to from the top of INPUT, OUTPUT and
FORWARD (FORWARD so task traffic routed by the node towards a peer is cut too). Each fault
adds its own chain ``SC-<hex>`` of DROP rules and one jump to it from ``SWARMCHECK``; healing
removes that jump and chain and touches nothing else, so overlapping faults heal separately
and Docker's own rules are never edited. Rules drop every IP protocol to or from the peer's
address: raft and the API (TCP 2377), gossip (TCP/UDP 7946), VXLAN (UDP 4789), ICMP.

When managers advertise their control plane through a proxy (see ``controlplane``), peer
traffic also flows via the address the peer is advertised at; that address is dropped too, so
a partition also cuts the proxied control plane and gossip. The rule text is built by pure
functions (unit-tested).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import ConfigError, FaultError
from swarmcheck.faults.base import Fault, FaultLog, node_of

HOOK_CHAIN = "SWARMCHECK"
HOOKED_FROM = ("INPUT", "OUTPUT", "FORWARD")
FAULT_CHAIN_PREFIX = "SC-"
Direction = Literal["in", "out", "both"]


@dataclass(frozen=True)
class Endpoint:
    """How a node's traffic is recognised: its IP and, if it advertises its control plane
    through a proxy, the address it is advertised at there (raft and gossip use it)."""

    ip: str
    alias: str | None = None

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.ip,) if self.alias is None else (self.ip, self.alias)


# -- pure rule generation ------------------------------------------------------------------
def drop_rules(chain: str, peers: Iterable[Endpoint], direction: Direction) -> list[list[str]]:
    """iptables argv (without ``iptables -w``) dropping traffic to (out) and/or from (in) peers."""
    rules: list[list[str]] = []
    for peer in peers:
        for address in peer.addresses:
            if direction in ("out", "both"):
                rules.append(["-A", chain, "-d", address, "-j", "DROP"])
            if direction in ("in", "both"):
                rules.append(["-A", chain, "-s", address, "-j", "DROP"])
    return rules


def _ipt(args: Sequence[str]) -> str:
    return "iptables -w " + " ".join(shlex.quote(a) for a in args)


def apply_script(chain: str, rules: Sequence[Sequence[str]]) -> str:
    """Shell that hooks ``SWARMCHECK`` (idempotently), fills ``chain`` and then enables it."""
    lines = [
        "set -e",
        f"{_ipt(['-S', 'OUTPUT'])} >/dev/null || "
        "{ echo 'iptables -w does not work in this node' >&2; exit 3; }",
        f"{_ipt(['-N', HOOK_CHAIN])} 2>/dev/null || true",
    ]
    for builtin in HOOKED_FROM:
        check = _ipt(["-C", builtin, "-j", HOOK_CHAIN])
        lines.append(f"{check} 2>/dev/null || {_ipt(['-I', builtin, '1', '-j', HOOK_CHAIN])}")
    lines.append(_ipt(["-N", chain]))
    lines.extend(_ipt(rule) for rule in rules)
    lines.append(_ipt(["-A", HOOK_CHAIN, "-j", chain]))  # last: the fault starts here
    return "\n".join(lines)


def heal_script(chain: str) -> str:
    """Shell that removes ``chain`` and its jump; succeeds if they are already gone."""
    jump = _ipt(["-D", HOOK_CHAIN, "-j", chain])
    return "\n".join(
        [
            f"while {jump} 2>/dev/null; do :; done",
            f"{_ipt(['-F', chain])} 2>/dev/null || true",
            f"{_ipt(['-X', chain])} 2>/dev/null || true",
            f"if {_ipt(['-S', chain])} >/dev/null 2>&1; then "
            f"echo 'chain {chain} is still there' >&2; exit 1; fi",
        ]
    )


def clear_script() -> str:
    """Shell that removes every swarmcheck partition on a node (the hook chain stays, empty)."""
    return "\n".join(
        [
            f"{_ipt(['-F', HOOK_CHAIN])} 2>/dev/null || true",
            f"for c in $(iptables -w -S | sed -n 's/^-N \\({FAULT_CHAIN_PREFIX}[^ ]*\\)$/\\1/p');"
            ' do iptables -w -F "$c"; iptables -w -X "$c"; done',
        ]
    )


def plan_split(
    side_a: Mapping[str, Endpoint], side_b: Mapping[str, Endpoint]
) -> dict[str, list[list[str]]]:
    """Per node name: the rules (in a placeholder chain ``{chain}``) cutting A from B both ways."""
    overlap = set(side_a) & set(side_b)
    if overlap:
        raise ConfigError(f"a node cannot be on both sides of a partition: {sorted(overlap)}")
    if not side_a or not side_b:
        raise ConfigError("a partition needs at least one node on each side")
    plan = {name: drop_rules("{chain}", side_b.values(), "both") for name in side_a}
    plan.update({name: drop_rules("{chain}", side_a.values(), "both") for name in side_b})
    return plan


def plan_one_way(
    src: tuple[str, Endpoint], dst: tuple[str, Endpoint]
) -> dict[str, list[list[str]]]:
    """Rules dropping what ``src`` sends to ``dst`` (on src's way out and dst's way in)."""
    if src[0] == dst[0]:
        raise ConfigError(f"one_way needs two different nodes, got {src[0]} twice")
    return {
        src[0]: drop_rules("{chain}", [dst[1]], "out"),
        dst[0]: drop_rules("{chain}", [src[1]], "in"),
    }


# -- the fault -----------------------------------------------------------------------------
def endpoint(cluster: Cluster, node: Node) -> Endpoint:
    """A node's Endpoint, including its control-plane proxy address if it advertises one."""
    if cluster.advertise_addr is None:
        return Endpoint(node.ip)
    host = cluster.advertise_addr(node).rpartition(":")[0]
    return Endpoint(node.ip, None if host == node.ip else host)


class Partition(Fault):
    """Drops traffic between nodes as planned: ``{node name: rules}`` (see ``plan_*``)."""

    kind = "partition"

    def __init__(
        self,
        cluster: Cluster,
        plan: Mapping[str, Sequence[Sequence[str]]],
        targets: Sequence[str],
        params: Mapping[str, str | tuple[str, ...]] | None = None,
        log: FaultLog | None = None,
    ) -> None:
        super().__init__(cluster, targets, params, log)
        self.chain = f"{FAULT_CHAIN_PREFIX}{secrets.token_hex(4)}"
        self.plan = {
            name: [[self.chain if a == "{chain}" else a for a in rule] for rule in rules]
            for name, rules in plan.items()
        }

    def _inject(self) -> None:
        self._on_nodes(lambda node: apply_script(self.chain, self.plan[node.name]), "inject")

    def _heal(self) -> None:
        self._on_nodes(lambda node: heal_script(self.chain), "heal")

    def _on_nodes(self, script_for: Callable[[Node], str], what: str) -> None:
        nodes = [self.cluster.node(name) for name in self.plan]

        def run(node: Node) -> str | None:
            if what == "heal" and node.container.status in ("exited", "created", "dead"):
                return None  # its network namespace is gone, and the rules with it
            code, out = node.exec(script_for(node), timeout_s=30)
            return None if code == 0 else f"{node.name}: exit {code}: {out.strip()[:300]}"

        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            errors = [e for e in pool.map(_guarded(run), nodes) if e]
        if errors:
            raise FaultError(f"{what} failed on " + "; ".join(errors), self.kind)


def _guarded(run: Callable[[Node], str | None]) -> Callable[[Node], str | None]:
    """Turn exceptions into error strings so one node's failure does not hide the others'."""

    def wrapper(node: Node) -> str | None:
        try:
            return run(node)
        except Exception as exc:  # any cause (engine, bug): it is reported with the others
            return f"{node.name}: {type(exc).__name__}: {exc}"

    return wrapper


class IsolatePartition(Partition):
    kind = "partition_isolate"


class SplitPartition(Partition):
    kind = "partition_split"


class OneWayPartition(Partition):
    kind = "partition_oneway"


def isolate(cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> Partition:
    """Cut ``node`` off from every other node, both ways."""
    target = node_of(cluster, node)
    others = [n for n in cluster.nodes if n.name != target.name]
    plan = plan_split(
        {target.name: endpoint(cluster, target)}, {n.name: endpoint(cluster, n) for n in others}
    )
    return IsolatePartition(cluster, plan, (target.name,), {"node": target.name}, log)


def split(
    cluster: Cluster,
    side_a: Sequence[Node | str],
    side_b: Sequence[Node | str] | None = None,
    log: FaultLog | None = None,
) -> Partition:
    """Cut side A from side B both ways (B defaults to every node not in A)."""
    a = [node_of(cluster, n) for n in side_a]
    names_a = {n.name for n in a}
    b = (
        [node_of(cluster, n) for n in side_b]
        if side_b is not None
        else [n for n in cluster.nodes if n.name not in names_a]
    )
    plan = plan_split(
        {n.name: endpoint(cluster, n) for n in a}, {n.name: endpoint(cluster, n) for n in b}
    )
    params = {"side_a": tuple(n.name for n in a), "side_b": tuple(n.name for n in b)}
    return SplitPartition(cluster, plan, [n.name for n in a + b], params, log)


def one_way(
    cluster: Cluster, src: Node | str, dst: Node | str, log: FaultLog | None = None
) -> Partition:
    """Drop what ``src`` sends to ``dst``; dst -> src still flows (TCP then stalls both ways,
    since acknowledgements cannot return; UDP gossip from dst still arrives)."""
    s, d = node_of(cluster, src), node_of(cluster, dst)
    plan = plan_one_way((s.name, endpoint(cluster, s)), (d.name, endpoint(cluster, d)))
    return OneWayPartition(cluster, plan, (s.name, d.name), {"src": s.name, "dst": d.name}, log)


def hook_rules(node: Node) -> list[str]:
    """What ``SWARMCHECK`` holds on a node now (``iptables -S`` lines; empty when healed)."""
    code, out = node.exec(f"{_ipt(['-S', HOOK_CHAIN])} 2>/dev/null || true")
    if code != 0:
        raise FaultError(
            f"cannot list {HOOK_CHAIN} (exit {code}): {out.strip()}", "partition", node.name
        )
    return [line for line in out.splitlines() if line.startswith("-A ")]


def clear_partitions(cluster: Cluster) -> None:
    """Remove every swarmcheck partition on every running node (teardown of last resort)."""
    for node in cluster.nodes:
        if node.container.status != "running":
            continue
        code, out = node.exec(clear_script())
        if code != 0:
            raise FaultError(f"clearing partitions failed: {out.strip()}", "partition", node.name)
