"""Convergence check: after a fault is healed, services get back to their desired replicas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.client.swarm import TaskInfo
from swarmcheck.errors import CheckerError


@dataclass(frozen=True)
class ReplicaSample:
    """At time ``t``, ``service`` had ``running`` of ``desired`` replicas."""

    t: float
    service: str
    desired: int
    running: int

    @property
    def converged(self) -> bool:
        return self.running == self.desired


def _settled_at(after: Sequence[ReplicaSample]) -> ReplicaSample | None:
    """The first sample from which the service stayed converged to the end, if any."""
    settled: ReplicaSample | None = None
    for s in after:
        if not s.converged:
            settled = None
        elif settled is None:
            settled = s
    return settled


def check_converged(
    samples: Sequence[ReplicaSample], healed_at: float, deadline_s: float
) -> Verdict:
    """Pass if every service reached desired within ``deadline_s`` of ``healed_at`` and stayed."""
    if not samples:
        raise CheckerError("check_converged got no samples; cannot judge convergence")
    if deadline_s < 0:
        raise CheckerError(f"deadline_s must be >= 0, got {deadline_s}")
    services = sorted({s.service for s in samples})
    times: dict[str, float] = {}
    problems: list[str] = []
    for name in services:
        after = sorted(
            (s for s in samples if s.service == name and s.t >= healed_at), key=lambda s: s.t
        )
        if not after:
            raise CheckerError(
                f"no sample of service {name} at or after healing at "
                f"t={healed_at:.1f}s; cannot judge convergence"
            )
        settled = _settled_at(after)
        if settled is not None and settled.t - healed_at <= deadline_s:
            times[name] = settled.t - healed_at
            continue
        last_bad = [s for s in after if not s.converged][-1]
        tail = (
            f" (settled only at t={settled.t:.1f}s, {settled.t - healed_at:.1f}s after healing)"
            if settled
            else f" (still {after[-1].running}/{after[-1].desired} at the last "
            f"sample, t={after[-1].t:.1f}s)"
        )
        problems.append(
            f"service {name} did not converge to {last_bad.desired}/{last_bad.desired} within "
            f"{deadline_s:.1f}s after healing at t={healed_at:.1f}s: last seen "
            f"{last_bad.running}/{last_bad.desired} at t={last_bad.t:.1f}s{tail}"
        )
    figures: dict[str, Figure] = {
        "services": len(services),
        "time_to_converge_s": max(times.values()) if not problems else "never",
    }
    figures.update({f"time_to_converge_s.{k}": round(v, 3) for k, v in times.items()})
    if not problems:
        return Verdict(
            "converged",
            True,
            f"{len(services)} service(s) converged within {max(times.values()):.1f}s of healing",
            figures,
        )
    return Verdict(
        "converged",
        False,
        "; ".join(problems),
        figures,
        expected=f"running == desired within {deadline_s:.1f}s of healing, and staying so",
        seen="; ".join(p.split(": ", 1)[1] for p in problems),
    )


def engine_disagreements(
    running: Sequence[TaskInfo], engines: Mapping[str, frozenset[str] | None]
) -> list[str]:
    """Where the engines contradict the managers' running tasks (empty: they agree).

    ``engines`` maps a swarm node id to the running containers of the service its engine
    lists (None: no answer). Every task the managers report running must have its container
    running on the node it is placed on, and no engine may run other containers of the
    service (a task the managers lost track of, or an old one still stopping). An engine that
    does not answer cannot confirm the tasks placed on it.
    """
    problems: list[str] = []
    claimed: set[str] = set()
    for task in running:
        seen = engines.get(task.node_id)
        where = f"node {task.node_id[:10]}"
        if task.node_id not in engines:
            problems.append(f"task {task.id[:10]} is placed on {where}, not a node of the cluster")
        elif seen is None:
            problems.append(f"task {task.id[:10]}: the engine of {where} did not answer")
        elif not task.container_id or task.container_id not in seen:
            problems.append(
                f"task {task.id[:10]} is running per the managers, but its container "
                f"{(task.container_id or 'none')[:12]} is not running on {where}"
            )
        if task.container_id:
            claimed.add(task.container_id)
    for node_id, seen in sorted(engines.items()):
        extra = (seen or frozenset()) - claimed
        if extra:
            problems.append(
                f"node {node_id[:10]} runs {len(extra)} container(s) of the service that no "
                f"running task owns: {', '.join(sorted(c[:12] for c in extra))}"
            )
    return problems
