"""Availability check: how many probes of a service succeeded and how long it was unreachable."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError


@dataclass(frozen=True)
class Probe:
    """One request at time ``t``; ``answer`` is what it returned (e.g. the version, "v1")."""

    t: float
    ok: bool
    latency_ms: float | None = None
    answer: str | None = None


def answer_histogram(probes: Sequence[Probe]) -> dict[str, int]:
    """Count the answers of successful probes, e.g. {"v1": 200, "v2": 175} during an update."""
    return dict(sorted(Counter(p.answer for p in probes if p.ok and p.answer is not None).items()))


@dataclass(frozen=True)
class AddressProbe:
    """One request of a probe round to one task address: did that address answer?"""

    t: float
    address: str
    ok: bool
    answer: str | None = None


def gap_between_successes(points: Sequence[tuple[float, bool]]) -> tuple[float, float, float]:
    """(length, start, end) of the longest stretch without a successful probe: the one
    definition of "longest gap" (the checker, the figures and the plot all use it).

    ``points`` are (time, ok). A gap runs from a success to the next success: the service was
    last seen answering at its start and first seen answering again at its end, so it is the
    longest time without evidence that the service was available. The run's edges count too:
    from the first probe to the first success, from the last success to the last probe; the
    whole run if nothing succeeded. With no failure at all it is the longest probe interval.
    """
    ordered = sorted(points, key=lambda p: p[0])
    if not ordered:
        return (0.0, 0.0, 0.0)
    marks = [t for t, ok in ordered if ok]
    if not ordered[0][1] or not marks:
        marks.insert(0, ordered[0][0])
    if not ordered[-1][1]:
        marks.append(ordered[-1][0])
    best = (0.0, ordered[0][0], ordered[0][0])
    for a, b in itertools.pairwise(marks):
        if b - a > best[0]:
            best = (b - a, a, b)
    return best


def longest_gap(probes: Sequence[Probe]) -> tuple[float, float, float]:
    """(length, start, end) of the longest stretch without a successful probe
    (``gap_between_successes``)."""
    return gap_between_successes([(p.t, p.ok) for p in probes])


def address_failures(attempts: Sequence[AddressProbe]) -> dict[str, tuple[int, int]]:
    """Per task address: (requests that answered, requests that did not)."""
    counts: dict[str, tuple[int, int]] = {}
    for a in attempts:
        ok, failed = counts.get(a.address, (0, 0))
        counts[a.address] = (ok + a.ok, failed + (not a.ok))
    return dict(sorted(counts.items()))


def check_availability(
    probes: Sequence[Probe], min_success_ratio: float = 1.0, max_gap_s: float | None = None
) -> Verdict:
    """Fail if too few probes succeeded or the longest outage exceeded ``max_gap_s``."""
    if not probes:
        raise CheckerError("check_availability got zero probes; an unprobed service is not a pass")
    if not 0.0 <= min_success_ratio <= 1.0:
        raise CheckerError(f"min_success_ratio must be within 0..1, got {min_success_ratio}")
    total = len(probes)
    failures = sum(not p.ok for p in probes)
    ratio = (total - failures) / total
    gap, gap_from, gap_to = longest_gap(probes)
    latencies = sorted(p.latency_ms for p in probes if p.ok and p.latency_ms is not None)
    answers = answer_histogram(probes)
    figures: dict[str, Figure] = {
        "total": total,
        "failures": failures,
        "success_ratio": round(ratio, 4),
        "longest_gap_s": round(gap, 3),
        "answers": " ".join(f"{k}={v}" for k, v in answers.items()),
    }
    if latencies:
        figures["max_latency_ms"] = latencies[-1]
        figures["p50_latency_ms"] = latencies[len(latencies) // 2]
    seen = (
        f"{failures} of {total} probes failed ({ratio:.1%} ok); longest gap without a "
        f"successful probe {gap:.1f}s (t={gap_from:.1f}s..{gap_to:.1f}s)"
    )
    broken = []
    if ratio < min_success_ratio:
        broken.append(f"success ratio {ratio:.1%} < {min_success_ratio:.1%}")
    if max_gap_s is not None and gap > max_gap_s:
        broken.append(f"gap {gap:.1f}s > {max_gap_s:.1f}s")
    expected = f"at least {min_success_ratio:.1%} of probes ok" + (
        f" and no gap over {max_gap_s:.1f}s" if max_gap_s is not None else ""
    )
    if not broken:
        return Verdict("availability", True, seen, figures, expected=expected, seen=seen)
    return Verdict(
        "availability", False, f"{', '.join(broken)}: {seen}", figures, expected=expected, seen=seen
    )
