"""A seeded, replayable chaos schedule for nightly mode: which fault, on whom, when, how long.

Times are drawn on a millisecond grid from ``random.Random(seed)`` only, so the same seed and
options always give byte-for-byte the same schedule, and a failing night can be replayed.
Which kinds exist, their default targets and how their parameters are drawn come from the
registry in ``faults.kinds``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swarmcheck.errors import ConfigError
from swarmcheck.faults.kinds import FAULT_KINDS, KINDS, Param
from swarmcheck.faults.targets import parse_target

__all__ = ["FAULT_KINDS", "PlannedFault", "Schedule", "plan_schedule"]


@dataclass(frozen=True)
class PlannedFault:
    """One fault: starts ``start_s`` after the run began and is healed ``duration_s`` later."""

    start_s: float
    duration_s: float
    kind: str
    target: str
    params: Mapping[str, Param]

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Schedule:
    """A complete chaos plan; ``duration_s`` is the run's budget including the final heal gap."""

    seed: int
    duration_s: float
    faults: tuple[PlannedFault, ...]

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys) so equal schedules give equal bytes."""
        body = {
            "seed": self.seed,
            "duration_s": self.duration_s,
            "faults": [
                {
                    "start_s": f.start_s,
                    "duration_s": f.duration_s,
                    "kind": f.kind,
                    "target": f.target,
                    "params": dict(f.params),
                }
                for f in self.faults
            ],
        }
        return json.dumps(body, sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        """Load a schedule saved by ``to_json`` (e.g. to replay a night); ConfigError if bad."""
        try:
            body: Any = json.loads(text)
            faults = tuple(
                PlannedFault(
                    start_s=float(f["start_s"]),
                    duration_s=float(f["duration_s"]),
                    kind=str(f["kind"]),
                    target=str(f["target"]),
                    params=dict(f["params"]),
                )
                for f in body["faults"]
            )
            schedule = cls(int(body["seed"]), float(body["duration_s"]), faults)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a valid chaos schedule: {_what_is_wrong(exc)}") from exc
        for f in faults:
            _check_kinds([f.kind])
            parse_target(f.target)
            wanted = set(KINDS[f.kind].params)
            if set(f.params) != wanted:
                raise ConfigError(
                    f"not a valid chaos schedule: a {f.kind} fault takes parameters "
                    f"{sorted(wanted)}, this one has {sorted(f.params)}"
                )
        return schedule

    def timeline_text(self) -> str:
        """Human-readable timeline, one fault per line."""
        head = f"chaos schedule seed={self.seed}: {len(self.faults)} faults in {self.duration_s:g}s"
        lines = [head]
        for f in self.faults:
            knobs = " ".join(f"{k}={v}" for k, v in sorted(f.params.items()))
            line = f"  {f.start_s:8.3f}s -> {f.end_s:8.3f}s  {f.kind:<17} {f.target:<9} {knobs}"
            lines.append(line.rstrip())
        return "\n".join(lines)


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ConfigError(
            f"unknown fault kind(s) {', '.join(map(repr, unknown))}; "
            f"valid kinds: {', '.join(FAULT_KINDS)}"
        )


def plan_schedule(
    seed: int,
    duration_s: float,
    kinds: Sequence[str] = FAULT_KINDS,
    targets: Mapping[str, Sequence[str]] | None = None,
    *,
    min_fault_s: float = 5,
    max_fault_s: float = 20,
    min_gap_s: float = 10,
    max_gap_s: float = 25,
) -> Schedule:
    """Plan non-overlapping faults separated by gaps, all ending ``min_gap_s`` before the end.

    ``targets`` overrides a kind's default targets (``FaultKind.targets``). Kinds are put in
    registry order first, so the result depends on the set of kinds, not on the order the
    user typed them.
    """
    if not kinds:
        raise ConfigError(f"no fault kinds selected; valid kinds: {', '.join(FAULT_KINDS)}")
    _check_kinds(kinds)
    if not 0 < min_fault_s <= max_fault_s or not 0 <= min_gap_s <= max_gap_s:
        raise ConfigError(
            "need 0 < min_fault_s <= max_fault_s and 0 <= min_gap_s <= max_gap_s, got "
            f"fault {min_fault_s}..{max_fault_s}s, gap {min_gap_s}..{max_gap_s}s"
        )
    budget, fmin, fmax, gmin, gmax = (
        round(s * 1000) for s in (duration_s, min_fault_s, max_fault_s, min_gap_s, max_gap_s)
    )
    if budget < 2 * gmin + fmin:
        raise ConfigError(
            f"a {duration_s:g}s chaos run cannot fit one fault: it needs at least "
            f"{(2 * gmin + fmin) / 1000:g}s (gap + shortest fault + final healing gap)"
        )
    pool = [k for k in FAULT_KINDS if k in kinds]
    choices = {k: tuple((targets or {}).get(k, KINDS[k].targets)) for k in pool}
    for kind, options in choices.items():
        if not options:
            raise ConfigError(f"fault kind {kind!r} has no targets")
        for option in options:
            parse_target(option)
    rng = random.Random(seed)
    faults: list[PlannedFault] = []
    t = min(rng.randint(gmin, gmax), budget - gmin - fmin)
    while (room := budget - gmin - t) >= fmin:
        length = min(rng.randint(fmin, fmax), room)
        kind = rng.choice(pool)
        target = rng.choice(choices[kind])
        faults.append(PlannedFault(t / 1000, length / 1000, kind, target, KINDS[kind].draw(rng)))
        t += length + rng.randint(gmin, gmax)
    return Schedule(seed, float(duration_s), tuple(faults))


def _what_is_wrong(exc: Exception) -> str:
    """What a schedule that does not load lacks, in words rather than a Python error."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing"
    return f"a field has the wrong type or value ({exc})"
