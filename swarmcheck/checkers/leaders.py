"""Single-leader check: Raft promises at most one leader at a time.

Observers may disagree briefly during an election (a stale follower still names the old
leader); that is allowed. What is not allowed is two nodes each claiming to be the leader
themselves within the same sample round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swarmcheck.checkers.verdict import Verdict
from swarmcheck.errors import CheckerError


@dataclass(frozen=True)
class LeaderSample:
    """At time ``t`` reachable manager ``observer`` named ``leader`` (None: no leader known)."""

    t: float
    observer: str
    leader: str | None
    self_claims: bool = False

    @property
    def claims_leadership(self) -> bool:
        return self.self_claims or self.leader == self.observer


def _rounds(samples: Sequence[LeaderSample], window_s: float) -> list[list[LeaderSample]]:
    """Group samples by time: a round spans ``window_s`` from its first sample and ends
    early when an observer repeats (its second answer belongs to the next round)."""
    rounds: list[list[LeaderSample]] = []
    for s in sorted(samples, key=lambda s: (s.t, s.observer)):
        current = rounds[-1] if rounds else None
        if (
            current is None
            or s.t - current[0].t > window_s
            or any(o.observer == s.observer for o in current)
        ):
            rounds.append([s])
        else:
            current.append(s)
    return rounds


def check_single_leader(samples: Sequence[LeaderSample], window_s: float = 1.0) -> Verdict:
    """Fail if in any round two different managers each claim to be the leader."""
    if not samples:
        raise CheckerError("check_single_leader got no samples; cannot judge leadership")
    if window_s < 0:
        raise CheckerError(f"window_s must be >= 0, got {window_s}")
    rounds = _rounds(samples, window_s)
    split: list[str] = []
    disagreements = leaderless = 0
    for r in rounds:
        claims = sorted({s.observer for s in r if s.claims_leadership})
        named = {s.leader for s in r}
        disagreements += len(named - {None}) > 1
        leaderless += named == {None}
        if len(claims) > 1:
            who = ", ".join(f"{s.observer} at t={s.t:.1f}s" for s in r if s.claims_leadership)
            split.append(f"{' and '.join(claims)} both claimed leadership ({who})")
    figures = {
        "samples": len(samples),
        "rounds": len(rounds),
        "split_brain_rounds": len(split),
        "disagreeing_rounds": disagreements,
        "leaderless_rounds": leaderless,
    }
    if not split:
        return Verdict(
            "single_leader", True, f"one leader at most in all {len(rounds)} rounds", figures
        )
    return Verdict(
        "single_leader",
        False,
        f"two leaders at once in {len(split)} of {len(rounds)} rounds; first: {split[0]}",
        figures,
        expected="at most one manager claims to be leader in each sample round",
        seen="; ".join(split[:5]) + (" ..." if len(split) > 5 else ""),
    )
