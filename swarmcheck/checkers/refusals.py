"""Checks on writes a swarm must refuse under a fault (no quorum, a partitioned manager).

A refusal is judged on the write itself: the engine's answer to the one request that carries
the change (an update POSTed with the version read before the fault, a create), never on a read
that fails first. Then, once the fault has healed, nothing a refused write asked for may have
happened: the service keeps its version and spec, no refused create exists, and every engine
runs the same task containers as before.

Raft's outcomes are not all definite (docs/consistency.md, "outcome rules"): a write that ends in
a deadline, or that a leader loses its status under, may still commit later. Those answers are
"indeterminate": they are allowed before the documented refusal, and where the caller says they
may have reached a leader (a leader that lost its quorum), their effect is allowed afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmcheck.checkers.containers import short_ids
from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError

NO_LEADER_TEXT = (
    "The swarm does not have a leader. It's possible that too few managers are online. "
    "Make sure more than half of the managers are online."
)
"""swarmkit's lostQuorumMessage, which the engine answers a write with once its manager has
had no leader for more than 10 raft ticks."""
DEADLINE_TEXT = "context deadline exceeded"
"""The engine's 20 s deadline on a call to its manager (moby swarmRequestTimeout)."""
LOST_LEADER_TEXT = "node lost leader status"
"""swarmkit: the leader stepped down under a pending proposal (which may still commit)."""


@dataclass(frozen=True)
class Refusal:
    """How a write must be refused: the HTTP status and one of the texts the engine answers
    with, and the answers whose outcome is unknown (allowed, never the verdict)."""

    name: str
    status: int
    texts: tuple[str, ...]
    indeterminate: tuple[str, ...] = ()

    def describe(self) -> str:
        texts = " or ".join(repr(t) for t in self.texts)
        return f"HTTP {self.status} with {texts}"


NO_LEADER = Refusal(
    "no leader",
    500,
    (NO_LEADER_TEXT,),
    indeterminate=(DEADLINE_TEXT, LOST_LEADER_TEXT),
)
"""Writes without quorum (q-writes-fail): the documented no-leader refusal; while the leader
steps down a write may first end in a deadline or lose its leader (outcome unknown)."""
MINORITY = Refusal("minority", 500, (NO_LEADER_TEXT, DEADLINE_TEXT))
"""Writes through a manager cut off from the majority (raft-partition: "minority write errors
within ~20-25 s"): the request deadline, or the no-leader refusal once the isolated manager has
campaigned; nothing it sent can reach a leader, so neither answer may take effect."""


@dataclass(frozen=True)
class WriteAnswer:
    """One write and the engine's answer to it.

    ``kind`` groups writes of one sort (scale, update, create); ``asked`` is what the write
    would change (``replicas``/``image`` of the watched service, or ``service``: the name of a
    service it creates); ``status``/``text`` are the engine's error (both None: accepted);
    ``answered`` is False when the client gave up before the engine answered."""

    kind: str
    what: str
    t: float
    took_s: float
    status: int | None
    text: str | None
    asked: Mapping[str, object] = field(default_factory=dict, hash=False)
    answered: bool = True

    @property
    def accepted(self) -> bool:
        return self.answered and self.status is None and self.text is None

    def outcome(self, refusal: Refusal) -> str:
        """accepted, refused (the documented way), indeterminate, unanswered or other."""
        if not self.answered:
            return "unanswered"
        if self.accepted:
            return "accepted"
        text = self.text or ""
        if self.status == refusal.status and any(t in text for t in refusal.texts):
            return "refused"
        if any(t in text for t in refusal.indeterminate):
            return "indeterminate"
        return "other"

    def __str__(self) -> str:
        if not self.answered:
            said = f"no answer ({self.text})"
        elif self.accepted:
            said = "accepted"
        else:
            said = f"{self.status}: {self.text}"
        return f"{self.what} at t={self.t:.1f}s ({self.took_s:.1f}s): {said}"


def of_unknown_outcome(answers: Sequence[WriteAnswer], refusal: Refusal) -> list[WriteAnswer]:
    """The answers that leave a write's outcome open: indeterminate ones, and no answer."""
    return [a for a in answers if a.outcome(refusal) in ("indeterminate", "unanswered")]


def of_known_outcome(answers: Sequence[WriteAnswer], refusal: Refusal) -> list[WriteAnswer]:
    """The answers that settle a write: accepted, refused, or any other error."""
    unknown = of_unknown_outcome(answers, refusal)
    return [a for a in answers if a not in unknown]


def check_refused(answers: Sequence[WriteAnswer], refusal: Refusal) -> Verdict:
    """Fail if a write was accepted or answered with anything but the refusal (or an answer of
    unknown outcome), or if a kind of write never got the documented refusal from an engine."""
    if not answers:
        raise CheckerError("check_refused got no writes to judge")
    by_outcome: dict[str, list[WriteAnswer]] = {}
    for answer in answers:
        by_outcome.setdefault(answer.outcome(refusal), []).append(answer)
    kinds = sorted({a.kind for a in answers})
    refused_kinds = {a.kind for a in by_outcome.get("refused", [])}
    problems = [f"accepted: {a}" for a in by_outcome.get("accepted", [])]
    problems += [f"answered otherwise: {a}" for a in by_outcome.get("other", [])]
    problems += [
        f"no {kind} write was refused that way by an engine"
        for kind in kinds
        if kind not in refused_kinds
    ]
    figures: dict[str, Figure] = {
        f"writes.{outcome}": len(found) for outcome, found in sorted(by_outcome.items())
    }
    refused = by_outcome.get("refused", [])
    if refused:
        figures["first_refusal_t_s"] = round(min(a.t for a in refused), 1)
    expected = f"every write refused with {refusal.describe()}"
    if not problems:
        return Verdict(
            f"refused ({refusal.name})",
            True,
            f"{len(refused)} {'/'.join(kinds)} writes refused with {refusal.describe()}"
            + _also(by_outcome),
            figures,
        )
    return Verdict(
        f"refused ({refusal.name})",
        False,
        "; ".join(problems),
        figures,
        expected=expected,
        seen="; ".join(str(a) for a in answers[-6:]),
    )


def _also(by_outcome: Mapping[str, Sequence[WriteAnswer]]) -> str:
    extra = [f"{len(v)} {k}" for k, v in sorted(by_outcome.items()) if k not in ("refused",)]
    return f" ({', '.join(extra)} before it)" if extra else ""


@dataclass(frozen=True)
class WatchedState:
    """What refused writes could change, read before the fault and again after healing: the
    watched service's version and stored spec, the names of every service, and the service's
    running task containers on each engine (None: that engine did not answer)."""

    version: int
    spec: Mapping[str, Any] = field(hash=False)
    services: frozenset[str]
    containers: Mapping[str, frozenset[str] | None] = field(hash=False)

    def field_value(self, name: str) -> object:
        """``replicas`` or ``image`` of the watched service's spec."""
        if name == "replicas":
            return ((self.spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
        if name == "image":
            image = self.spec["TaskTemplate"]["ContainerSpec"]["Image"]
            return str(image).split("@")[0]
        raise CheckerError(f"a refused write cannot ask for {name!r}")


def took_effect(asked: Mapping[str, object], before: WatchedState, after: WatchedState) -> bool:
    """Whether what a write asked for is there after, and was not before."""
    if not asked:
        return False
    if "service" in asked:
        name = str(asked["service"])
        return name in after.services and name not in before.services
    return all(after.field_value(k) == v for k, v in asked.items()) and any(
        before.field_value(k) != v for k, v in asked.items()
    )


def _services_moved(before: WatchedState, after: WatchedState, explained: set[str]) -> list[str]:
    """Services that appeared (but for those a write of unknown outcome created) or went."""
    problems = []
    new = sorted(after.services - before.services - explained)
    gone = sorted(before.services - after.services)
    if new:
        problems.append(f"services appeared: {', '.join(new)}")
    if gone:
        problems.append(f"services went: {', '.join(gone)}")
    return problems


def _service_changed(before: WatchedState, after: WatchedState, judged: list[str]) -> list[str]:
    """How the watched service's version, spec and task containers (on the engines that
    answered both times) changed."""
    problems = []
    if after.version != before.version:
        problems.append(f"the service's version went from {before.version} to {after.version}")
    if after.spec != before.spec:
        keys = sorted(
            k for k in set(before.spec) | set(after.spec) if before.spec.get(k) != after.spec.get(k)
        )
        problems.append(f"the service's spec changed ({', '.join(keys)})")
    for node in judged:
        was, now = before.containers[node] or frozenset(), after.containers[node] or frozenset()
        if was != now:
            problems.append(f"{node} runs {short_ids(now)} instead of {short_ids(was)}")
    return problems


def check_unchanged(
    before: WatchedState,
    after: WatchedState,
    refused: Sequence[WriteAnswer],
    unknown: Sequence[WriteAnswer] = (),
) -> Verdict:
    """Fail if anything a refused write asked for happened, or the watched service changed.

    ``refused``: writes whose refusal is definite (none may take effect). ``unknown``: writes
    whose outcome Raft leaves open (a deadline under a leader that lost quorum): their effect
    is allowed, and then the service's version, spec and containers may follow it. Otherwise the
    service keeps its version and spec, no service appeared or went, and each engine that
    answered both times runs the same task containers.
    """
    judged = sorted(
        n
        for n, seen in after.containers.items()
        if seen is not None and before.containers.get(n) is not None
    )
    if not judged:
        raise CheckerError("no engine answered both before the fault and after healing")
    problems = [
        f"a refused write took effect: {a}" for a in refused if took_effect(a.asked, before, after)
    ]
    applied = [a for a in unknown if took_effect(a.asked, before, after)]
    explained = {str(a.asked["service"]) for a in applied if "service" in a.asked}
    problems += _services_moved(before, after, explained)
    if not [a for a in applied if "service" not in a.asked]:
        problems += _service_changed(before, after, judged)
    unjudged = sorted((set(before.containers) | set(after.containers)) - set(judged))
    figures: dict[str, Figure] = {
        "version_before": before.version,
        "version_after": after.version,
        "engines_compared": len(judged),
        "unknown_writes_applied": len(applied),
    }
    note = f"; not compared (engine down): {', '.join(unjudged)}" if unjudged else ""
    if applied:
        note += "; writes of unknown outcome took effect: " + "; ".join(str(a) for a in applied)
    if not problems:
        return Verdict(
            "unchanged",
            True,
            f"version {after.version}, spec and services as before, the same task containers "
            f"on {', '.join(judged)}{note}",
            figures,
        )
    return Verdict(
        "unchanged",
        False,
        "; ".join(problems) + note,
        figures,
        expected="nothing a refused write asked for; the service, its version and its "
        "containers as before the fault",
        seen="; ".join(problems),
    )
