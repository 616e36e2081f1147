"""Nothing-lost check: a fault must not lose or alter services, secrets, configs or networks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from swarmcheck.checkers.verdict import Verdict


@dataclass(frozen=True)
class Inventory:
    """The cluster's objects: service name -> spec digest, and names of the rest."""

    services: Mapping[str, str]
    secrets: frozenset[str] = field(default_factory=frozenset)
    configs: frozenset[str] = field(default_factory=frozenset)
    networks: frozenset[str] = field(default_factory=frozenset)


def check_nothing_lost(before: Inventory, after: Inventory) -> Verdict:
    """List exactly which objects disappeared or whose service spec changed; additions are ok."""
    lost: list[str] = [f"service {n}" for n in sorted(set(before.services) - set(after.services))]
    for kind, old, new in (
        ("secret", before.secrets, after.secrets),
        ("config", before.configs, after.configs),
        ("network", before.networks, after.networks),
    ):
        lost += [f"{kind} {n}" for n in sorted(old - new)]
    changed = [
        f"service {n} (spec {d} -> {after.services[n]})"
        for n, d in sorted(before.services.items())
        if n in after.services and after.services[n] != d
    ]
    total = len(before.services) + len(before.secrets) + len(before.configs) + len(before.networks)
    figures = {"objects_before": total, "lost": len(lost), "changed": len(changed)}
    if not lost and not changed:
        return Verdict(
            "nothing_lost", True, f"all {total} objects still present and unchanged", figures
        )
    parts = ([f"lost: {', '.join(lost)}"] if lost else []) + (
        [f"changed: {', '.join(changed)}"] if changed else []
    )
    return Verdict(
        "nothing_lost",
        False,
        "; ".join(parts),
        figures,
        expected=f"all {total} objects present with the same service specs",
        seen="; ".join(parts),
    )
