"""What "a whole swarm" means, as a pure function of what every manager reports.

Docker's own post-chaos invariant (moby's ``checkClusterHealth``) asks every manager, checks
that each node is ready, that exactly one leader is known, and that the counts match. Here a
swarm is whole when every manager that currently holds the manager role answers `node ls`, and
in each of those views:

- every node of the cluster appears exactly once, under the swarm ID it had (a node that
  comes back under a new ID is a different member, not the same node healed), and no other
  node appears;
- every node is Ready and every manager Reachable;
- exactly one node is Leader, and it is the same node in every view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmcheck.client.swarm import NodeInfo


@dataclass(frozen=True)
class Member:
    """A node the cluster started: its name (= hostname) and its swarm ID ("" until known)."""

    name: str
    node_id: str = ""


@dataclass(frozen=True)
class Health:
    """The problems found (empty: whole) and node IDs learned for members whose ID was unknown."""

    problems: tuple[str, ...]
    learned_ids: Mapping[str, str]

    @property
    def whole(self) -> bool:
        return not self.problems


View = Sequence[NodeInfo] | str
"""One manager's `node ls`, or why it did not answer."""


def swarm_health(members: Sequence[Member], views: Mapping[str, View]) -> Health:
    """Judge the views of the current managers (observer name -> its node list or its error)."""
    problems: list[str] = []
    learned: dict[str, str] = {}
    leaders: dict[str, str] = {}
    if not views:
        return Health(("no manager to ask for the node list",), learned)
    for observer, view in views.items():
        if isinstance(view, str):
            problems.append(f"{observer} did not answer `node ls`: {view}")
            continue
        by_host: dict[str, list[NodeInfo]] = {}
        for info in view:
            by_host.setdefault(info.hostname, []).append(info)
        problems += _listing_problems(observer, view, members, by_host)
        problems += _member_problems(observer, members, by_host, learned)
        named = sorted(i.hostname for i in view if i.leader)
        if len(named) != 1:
            problems.append(f"{observer} sees {len(named)} leaders: {named or 'none'}")
        else:
            leaders[observer] = named[0]
    if len(set(leaders.values())) > 1:
        problems.append(
            "managers disagree on the leader: "
            + ", ".join(f"{o} sees {leader}" for o, leader in sorted(leaders.items()))
        )
    return Health(tuple(dict.fromkeys(problems)), learned)


def _listing_problems(
    observer: str,
    view: Sequence[NodeInfo],
    members: Sequence[Member],
    by_host: Mapping[str, list[NodeInfo]],
) -> list[str]:
    """What is wrong with the list itself: its length, strangers, a node listed twice."""
    problems = []
    if len(view) != len(members):
        listed = ", ".join(sorted(f"{i.hostname}({i.id[:8]})" for i in view))
        problems.append(
            f"{observer} lists {len(view)} nodes, the cluster has {len(members)}: {listed}"
        )
    ours = {m.name for m in members}
    for host, entries in sorted(by_host.items()):
        if host not in ours:
            problems.append(
                f"{observer} lists a node this cluster did not start: {host} "
                f"({', '.join(e.id[:12] for e in entries)})"
            )
        elif len(entries) > 1:
            problems.append(
                f"{observer} lists {host} {len(entries)} times "
                f"(ids {', '.join(e.id[:12] for e in entries)})"
            )
    return problems


def _member_problems(
    observer: str,
    members: Sequence[Member],
    by_host: Mapping[str, list[NodeInfo]],
    learned: dict[str, str],
) -> list[str]:
    """What is wrong with each member as ``observer`` lists it (absent, under a new ID, not
    Ready, an unreachable manager); IDs first seen here go into ``learned``."""
    problems = []
    for member in members:
        entries = by_host.get(member.name, [])
        if not entries:
            problems.append(f"{member.name} is not in {observer}'s node list")
            continue
        info = entries[0]
        if member.node_id:
            same = [e for e in entries if e.id == member.node_id]
            if not same:
                problems.append(
                    f"{member.name} is in the node list under a new ID {info.id[:12]} "
                    f"(it joined as {member.node_id[:12]})"
                )
                continue
            info = same[0]
        elif len(entries) == 1:
            learned.setdefault(member.name, info.id)
        if info.state != "ready":
            problems.append(f"{member.name} is {info.state}")
        if info.role == "manager" and info.reachability != "reachable":
            problems.append(f"{member.name} is {info.reachability}")
    return problems


def current_managers(views: Mapping[str, View]) -> set[str]:
    """Hostnames that any answering view lists with the manager role."""
    return {
        info.hostname
        for view in views.values()
        if not isinstance(view, str)
        for info in view
        if info.role == "manager"
    }
