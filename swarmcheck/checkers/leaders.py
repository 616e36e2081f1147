"""Single-leader check: Raft promises at most one leader per term, and Swarm one leader.

Every manager's `node ls` names whom it sees as Leader; the sampler asks them all in rounds.
Two managers naming different leaders in the same round is a split, with one exception Raft
allows: a deposed leader that has not stepped down yet. Leadership is per term, and a leader
learns that a newer term exists only from a message of that term, so for a while it can still
believe it leads (and answer `node ls` from its own store, naming itself) while the others
already name its successor. That exception is bounded by Raft's timing in Swarm:

- a deposed leader that hears the new leader steps down at its first message, which comes
  within one heartbeat (HeartbeatTick, 1 s);
- one cut off from the majority steps down by CheckQuorum when an election timeout passes
  without hearing from a majority: at most 2 x ElectionTick (20 s) after it lost contact,
  while the majority elects a successor at the earliest 1 x ElectionTick (10 s) after it.

So the two can overlap by at most one ElectionTick (10 ticks of 1 s: moby's RaftElectionTick,
swarmkit's TickInterval; catalog row raft-partition). ``DEPOSED_GRACE_S`` is that bound. Only
the deposed leader's own view may name it, only while every other view names one successor or
none yet (a manager that voted but has not heard from the winner knows no leader), and not for
longer than the bound; anything else is a split.

A view is of the moment it was answered. A frozen manager answers when it thaws, seconds after
its round began, with what its store says then; compared with views its round-mates gave
seconds earlier it would read as a split that never existed. Samples answered more than one
round window after their round began are set aside and counted (``late_samples``); the next
round asks that manager again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError

ELECTION_TICK_S = 10.0
"""Swarm's raft election timeout: ElectionTick 10 x TickInterval 1 s (not configurable here)."""
DEPOSED_GRACE_S = ELECTION_TICK_S
"""Longest a deposed leader may still name itself while the others name its successor."""


@dataclass(frozen=True)
class LeaderSample:
    """In the round begun at ``t`` reachable manager ``observer`` named ``leaders`` (every node
    its view marks Leader; empty: none). ``leader`` is the first of them (None: no leader
    known). ``answered`` is when the answer came back (None: at once)."""

    t: float
    observer: str
    leader: str | None
    self_claims: bool = False
    leaders: tuple[str, ...] = ()
    answered: float | None = None

    def __post_init__(self) -> None:
        if not self.leaders and self.leader is not None:
            object.__setattr__(self, "leaders", (self.leader,))
        if self.self_claims and self.observer not in self.leaders:
            object.__setattr__(self, "leaders", (*self.leaders, self.observer))

    @classmethod
    def of_view(
        cls, t: float, observer: str, leaders: Iterable[str], answered: float | None
    ) -> LeaderSample:
        """The sample of one manager's node list: ``leaders`` are the hostnames it marks
        Leader (a view naming two is a split in itself); the first in order is ``leader``."""
        named = tuple(sorted(leaders))
        return cls(
            t=t,
            observer=observer,
            leader=named[0] if named else None,
            leaders=named,
            answered=answered,
        )

    @property
    def claims_leadership(self) -> bool:
        return self.observer in self.leaders


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


def _deposed(round_: list[LeaderSample], named: set[str], former: set[str]) -> str | None:
    """The deposed leader this disagreement is excused by, if it is one: a former leader
    named only by its own view while every other view names the same single successor."""
    if len(named) != 2:
        return None
    for stale in named & former:
        successor = next(iter(named - {stale}))
        namers = [s for s in round_ if stale in s.leaders]
        others = [s for s in round_ if s.observer != stale]
        if [s.observer for s in namers] == [stale] and all(
            s.leaders in ((successor,), ()) for s in others
        ):
            return stale
    return None


@dataclass
class _Leadership:
    """What the rounds showed so far: the leader the managers settled on, the ones it
    replaced, a deposed leader still naming itself (and since when), and every split."""

    t0: float
    deposed_grace_s: float
    split: list[str] = field(default_factory=list)
    excused: int = 0
    leaderless: int = 0
    longest: float = 0.0
    former: set[str] = field(default_factory=set)
    established: str | None = None
    episode: tuple[str, float] | None = None  # deposed leader, first round it was excused

    def judge(self, r: list[LeaderSample]) -> None:
        """Take one round into account."""
        named = {leader for s in r for leader in s.leaders}
        self.leaderless += not named
        views = ", ".join(f"{s.observer} names {'+'.join(s.leaders) or 'none'}" for s in r)
        if any(len(s.leaders) > 1 for s in r):
            self.split.append(f"t={r[0].t - self.t0:.1f}s: one view lists two leaders ({views})")
            return
        if len(named) <= 1:
            self.episode = None
            if named and self.established not in named:
                if self.established is not None:
                    self.former.add(self.established)
                self.established = next(iter(named))
            return
        known = self.former | ({self.established} if self.established else set())
        stale = _deposed(r, named, known)
        if stale is None:
            self.split.append(f"t={r[0].t - self.t0:.1f}s: {' and '.join(sorted(named))} ({views})")
            self.episode = None
            return
        if self.episode is None or self.episode[0] != stale:
            self.episode = (stale, r[0].t)
        lasted = r[0].t - self.episode[1]
        self.longest = max(self.longest, lasted)
        self.excused += 1
        if lasted > self.deposed_grace_s:
            self.split.append(
                f"t={r[0].t - self.t0:.1f}s: deposed leader {stale} still names itself "
                f"{lasted:.1f}s after the others named its successor (Raft allows "
                f"{self.deposed_grace_s:.0f}s; {views})"
            )


def _timely(
    samples: Sequence[LeaderSample], window_s: float, deposed_grace_s: float
) -> list[LeaderSample]:
    """The samples answered within ``window_s`` of their round; CheckerError when there is
    nothing to judge."""
    if not samples:
        raise CheckerError("check_single_leader got no samples; cannot judge leadership")
    if window_s < 0 or deposed_grace_s < 0:
        raise CheckerError(
            f"window_s and deposed_grace_s must be >= 0: {window_s}, {deposed_grace_s}"
        )
    timely = [s for s in samples if s.answered is None or s.answered - s.t <= window_s]
    if not timely:
        raise CheckerError(
            f"all {len(samples)} leader samples were answered more than {window_s}s after "
            "their round began; cannot judge leadership from views of other moments"
        )
    return timely


def check_single_leader(
    samples: Sequence[LeaderSample],
    window_s: float = 1.0,
    deposed_grace_s: float = DEPOSED_GRACE_S,
) -> Verdict:
    """Fail if in any round two leaders are named, except a deposed leader still naming
    itself for at most ``deposed_grace_s``; answers that came back more than ``window_s``
    after their round began are set aside (see the module docstring)."""
    timely = _timely(samples, window_s, deposed_grace_s)
    rounds = _rounds(timely, window_s)
    seen = _Leadership(t0=rounds[0][0].t, deposed_grace_s=deposed_grace_s)
    for r in rounds:
        seen.judge(r)
    split, excused, longest, leaderless = seen.split, seen.excused, seen.longest, seen.leaderless
    figures: dict[str, Figure] = {
        "samples": len(samples),
        "rounds": len(rounds),
        "split_brain_rounds": len(split),
        "deposed_leader_rounds": excused,
        "deposed_leader_s": round(longest, 1),
        "leaderless_rounds": leaderless,
        "late_samples": len(samples) - len(timely),
    }
    if not split:
        return Verdict(
            "single_leader",
            True,
            f"one leader in all {len(rounds)} rounds"
            + (f" (a deposed leader lagged {longest:.1f}s)" if excused else ""),
            figures,
        )
    return Verdict(
        "single_leader",
        False,
        f"two leaders at once in {len(split)} of {len(rounds)} rounds; first: {split[0]}",
        figures,
        expected="one leader named by every manager in each sample round (a deposed leader "
        f"may name itself for up to {deposed_grace_s:.0f}s)",
        seen="; ".join(split[:5]) + (" ..." if len(split) > 5 else ""),
    )
