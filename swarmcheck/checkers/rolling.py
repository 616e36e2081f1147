"""Rolling-update check: the update followed its order, as the engines and the managers show it.

A probe that moves to the next task address when one refuses (a client-side load balancer)
keeps answering through a stop-first update of several replicas: it cannot tell the orders
apart. What tells them apart is how many tasks run during the update and in which order each
slot was handed over:

- ``start-first`` (documented: "the new task is started first, and the running tasks briefly
  overlap"): never fewer than N running-and-healthy tasks, at most N + parallelism tasks
  meant to run, and in every slot the new task runs before the old one stops;
- ``stop-first`` (the default): at most N tasks meant to run, never fewer than
  N - parallelism healthy, and in every slot the old task stops before the new one runs.

"Meant to run" is the managers' count (desired state running), not the engines': measured here
(Docker 20.10, 3 replicas, parallelism 1) the engines ran 5 containers at once during a
start-first update, because a task told to stop keeps its container for Docker's gossip
convergence delay (2 s, moby's container controller) plus its stop, while the updater already
starts the next slot. That is the documented overlap, not a breach; ``max_running`` reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError

ORDERS = ("start-first", "stop-first")


@dataclass(frozen=True)
class UpdateSample:
    """At time ``t``, ``source`` showed ``running`` tasks of the service, ``healthy`` of them
    serving, and ``meant`` tasks meant to run (None where the source cannot tell).

    "engines" (every node's engine): running containers, and those whose healthcheck passes.
    "managers" (the tasks they report): tasks in state running; serving are those also meant
    to keep running (an old task told to stop leaves the service's DNS at once, although its
    container runs on for Docker's 2 s gossip delay and its stop); meant are tasks whose
    desired state is running, whatever state they reached.
    """

    t: float
    source: str
    running: int
    healthy: int
    by_image: Mapping[str, int] = field(default_factory=dict, hash=False)
    meant: int | None = None


@dataclass(frozen=True)
class Handover:
    """One slot's replacement, from the task history: when the old task stopped running and
    when its replacement started running (epoch seconds; None when it never did)."""

    slot: int
    old_task: str
    old_stopped_at: float | None
    new_task: str | None
    new_running_at: float | None


def parse_timestamp(value: str) -> float | None:
    """Engine API timestamps (RFC 3339, nanoseconds, ``Z``) as epoch seconds; None if empty."""
    if not value or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    digits = (frac + "000000")[:6]
    try:
        moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckerError(f"not an RFC 3339 timestamp: {value!r}") from exc
    return moment.timestamp() + int(digits) / 1e6


def _at(samples: Sequence[UpdateSample], pick: UpdateSample) -> str:
    images = " ".join(f"{k}={v}" for k, v in sorted(pick.by_image.items()))
    return (
        f"{pick.healthy} healthy of {pick.running} running per the {pick.source} at "
        f"t={pick.t - samples[0].t:.1f}s" + (f" ({images})" if images else "")
    )


def _runs(
    samples: list[UpdateSample], bad: Callable[[UpdateSample], bool], at_least: int = 2
) -> list[list[UpdateSample]]:
    """Runs of at least ``at_least`` consecutive samples for which ``bad`` holds.

    One sample reads the nodes' engines in parallel but not at one instant: a handover that
    completes between two reads can show one task too few or too many for one sample. A
    real dip or peak lasts (a stop-first handover leaves N-1 healthy tasks for the stop, the
    start and the first health check: over a second here), so one sample is not enough.
    """
    runs: list[list[UpdateSample]] = [[]]
    for x in samples:
        if bad(x):
            runs[-1].append(x)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if len(r) >= at_least]


def _judgeable(
    samples: Sequence[UpdateSample],
    handovers: Sequence[Handover],
    replicas: int,
    parallelism: int,
    order: str,
    min_samples: int,
) -> dict[str, list[UpdateSample]]:
    """The samples of each source in time order; CheckerError when they cannot be judged."""
    if order not in ORDERS:
        raise CheckerError(f"order must be one of {ORDERS}, got {order!r}")
    if replicas < 1 or parallelism < 1:
        raise CheckerError(f"replicas and parallelism must be >= 1, got {replicas}/{parallelism}")
    by_source = {
        source: sorted((x for x in samples if x.source == source), key=lambda x: x.t)
        for source in ("engines", "managers")
    }
    for source, mine in by_source.items():
        if len(mine) < min_samples:
            raise CheckerError(
                f"{len(mine)} samples from the {source} during the update (need {min_samples}): "
                "cannot judge the update order"
            )
    if len(handovers) != replicas:
        raise CheckerError(
            f"{len(handovers)} slot handovers for {replicas} replicas: the update did not "
            "replace every task, cannot judge its order"
        )
    return by_source


def _count_problems(
    by_source: dict[str, list[UpdateSample]],
    ordered: list[UpdateSample],
    meant: list[UpdateSample],
    floor: int,
    ceiling: int,
) -> list[str]:
    """Runs of samples below ``floor`` healthy tasks (either source), or above ``ceiling``
    tasks meant to run (the managers)."""
    problems = []
    dips = [d for mine in by_source.values() for d in _runs(mine, lambda x: x.healthy < floor)]
    if dips:
        worst = min((x for d in dips for x in d), key=lambda x: (x.healthy, x.t))
        problems.append(
            f"fewer than {floor} healthy tasks {len(dips)} time(s), in "
            f"{sum(len(d) for d in dips)} samples; lowest {_at(ordered, worst)}"
        )
    peaks = _runs(meant, lambda x: (x.meant or 0) > ceiling)
    if peaks:
        worst = max((x for d in peaks for x in d), key=lambda x: x.meant or 0)
        problems.append(
            f"more than {ceiling} tasks meant to run: {worst.meant} per the managers at "
            f"t={worst.t - ordered[0].t:.1f}s"
        )
    return problems


def _slot_order(handovers: Sequence[Handover], start_first: bool) -> tuple[list[str], list[float]]:
    """The slots whose handover broke the order, and how long each new task ran before its
    old one stopped (negative: after)."""
    wrong: list[str] = []
    overlaps: list[float] = []
    for h in sorted(handovers, key=lambda h: h.slot):
        if h.new_running_at is None:
            wrong.append(
                f"slot {h.slot}: task {h.old_task[:10]} was never replaced by a running one"
            )
            continue
        if h.old_stopped_at is None:
            wrong.append(f"slot {h.slot}: old task {h.old_task[:10]} never stopped")
            continue
        lead = h.old_stopped_at - h.new_running_at  # > 0: the new one ran first
        overlaps.append(lead)
        if start_first and lead <= 0:
            wrong.append(
                f"slot {h.slot}: the old task stopped {-lead:.2f}s before its replacement "
                "ran (stop-first order)"
            )
        elif not start_first and lead > 0:
            wrong.append(
                f"slot {h.slot}: the replacement ran {lead:.2f}s before the old task stopped "
                "(start-first order)"
            )
    return wrong, overlaps


def check_rolling_update(
    samples: Sequence[UpdateSample],
    handovers: Sequence[Handover],
    replicas: int,
    parallelism: int = 1,
    order: str = "start-first",
    min_samples: int = 5,
) -> Verdict:
    """Fail if the task counts or the per-slot order break ``order`` (see the module doc)."""
    by_source = _judgeable(samples, handovers, replicas, parallelism, order, min_samples)
    start_first = order == "start-first"
    floor = replicas if start_first else replicas - parallelism
    ceiling = replicas + parallelism if start_first else replicas
    ordered = sorted(samples, key=lambda x: x.t)
    low = min(ordered, key=lambda x: (x.healthy, x.t))
    high = max(by_source["engines"], key=lambda x: (x.running, -x.t))
    meant = [x for x in by_source["managers"] if x.meant is not None]
    problems = _count_problems(by_source, ordered, meant, floor, ceiling)
    wrong, overlaps = _slot_order(handovers, start_first)
    problems += wrong
    figures: dict[str, Figure] = {
        "update_samples": len(ordered),
        "min_healthy": low.healthy,
        "max_running": high.running,
        "max_meant": max((x.meant or 0 for x in meant), default=0),
        "slots_in_order": len(handovers) - len(wrong),
    }
    if overlaps:
        figures["min_handover_overlap_s"] = round(min(overlaps), 3)
    expected = (
        f"{order}: at least {floor} healthy and at most {ceiling} tasks meant to run, every slot "
        + ("started before it stopped" if start_first else "stopped before it started")
    )
    seen = (
        f"healthy {low.healthy}..{max(x.healthy for x in ordered)}, up to "
        f"{max((x.meant or 0 for x in meant), default=0)} meant to run and {high.running} "
        f"running; {len(handovers) - len(wrong)} of {len(handovers)} slots in order"
    )
    if not problems:
        return Verdict("rolling_update", True, f"{order} kept: {seen}", figures, expected, seen)
    return Verdict(
        "rolling_update",
        False,
        f"the update did not keep {order}: " + "; ".join(problems),
        figures,
        expected=expected,
        seen="; ".join(problems),
    )
