"""Checks on what the engines run: task containers kept through an outage, scaled by difference.

Inputs are container ids as each node's own engine lists them (running containers only):
what Swarm does, not what the managers say it does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError

Placement = Mapping[str, frozenset[str]]
"""node name -> ids of the running task containers its engine lists."""


@dataclass(frozen=True)
class ContainerSample:
    """At time ``t`` node ``node``'s engine ran ``containers`` (None: it did not answer)."""

    t: float
    node: str
    containers: frozenset[str] | None


def short_ids(ids: frozenset[str] | set[str]) -> str:
    """Container ids, shortened and sorted, for a message ("none" when there are none)."""
    return ", ".join(sorted(i[:12] for i in ids)) or "none"


def check_kept_running(
    before: Placement, samples: Sequence[ContainerSample], min_samples: int = 3
) -> Verdict:
    """Fail unless every node of ``before`` answered at least ``min_samples`` times and every
    answer listed exactly its containers of ``before`` (none gone, none replaced)."""
    if not before:
        raise CheckerError("check_kept_running got no nodes to watch")
    problems: list[str] = []
    counts: dict[str, int] = {}
    span: list[float] = []
    for node, expected in sorted(before.items()):
        mine = sorted((s for s in samples if s.node == node), key=lambda s: s.t)
        answered = [s for s in mine if s.containers is not None]
        counts[node] = len(answered)
        if len(answered) < min_samples:
            raise CheckerError(
                f"{node}'s engine answered {len(answered)} of {len(mine)} times (need "
                f"{min_samples}): cannot judge whether its tasks kept running"
            )
        span.append(answered[-1].t - answered[0].t)
        t0 = min(s.t for s in samples)
        for s in answered:
            assert s.containers is not None
            if s.containers != expected:
                gone, new = expected - s.containers, s.containers - expected
                problems.append(
                    f"{node} at t={s.t - t0:.1f}s: stopped {short_ids(gone)}, "
                    f"started {short_ids(new)}"
                )
                break
    figures: dict[str, Figure] = {f"samples.{k}": v for k, v in counts.items()}
    figures["watched_s"] = round(min(span), 1)
    containers = sum(len(v) for v in before.values())
    if not problems:
        return Verdict(
            "kept_running",
            True,
            f"{containers} task containers on {len(before)} nodes kept running, each node "
            f"sampled at least {min(counts.values())} times over {min(span):.1f}s",
            figures,
        )
    return Verdict(
        "kept_running",
        False,
        "task containers did not keep running: " + "; ".join(problems),
        figures,
        expected="the same running containers on every node at every sample",
        seen="; ".join(problems),
    )


def check_scaled(before: Placement, after: Placement, replicas: int) -> Verdict:
    """Scaling to ``replicas`` must keep the containers that run (up to ``replicas`` of them)
    and only add or remove the difference: up, every old container still runs and exactly
    ``replicas - old`` are new; down, no container is new and exactly ``old - replicas`` went."""
    old = frozenset().union(*before.values()) if before else frozenset()
    new = frozenset().union(*after.values()) if after else frozenset()
    added, removed = new - old, old - new
    problems: list[str] = []
    if len(new) != replicas:
        problems.append(f"{len(new)} containers run, not {replicas}")
    if replicas >= len(old):
        if removed:
            problems.append(f"scaling up from {len(old)} stopped {short_ids(removed)}")
        if len(added) != replicas - len(old):
            problems.append(f"{len(added)} new containers, not {replicas - len(old)}")
    else:
        if added:
            problems.append(f"scaling down from {len(old)} started {short_ids(added)}")
        if len(removed) != len(old) - replicas:
            problems.append(f"{len(removed)} containers stopped, not {len(old) - replicas}")
    figures: dict[str, Figure] = {
        "kept": len(old & new),
        "added": len(added),
        "removed": len(removed),
    }
    summary = (
        f"{len(old)} -> {len(new)}: kept {len(old & new)}, added {len(added)}, "
        f"removed {len(removed)}"
    )
    if not problems:
        return Verdict("scaled_by_difference", True, summary, figures)
    return Verdict(
        "scaled_by_difference",
        False,
        f"scaling {len(old)} -> {replicas} did not change only the difference: "
        + "; ".join(problems),
        figures,
        expected=f"the {min(len(old), replicas)} kept containers unchanged, "
        f"{abs(replicas - len(old))} {'added' if replicas >= len(old) else 'removed'}",
        seen=summary,
    )
