"""Stale reads in a recorded history, found directly, and a history without some reads.

A read is **stale** when it shows a state older than one the history proves was already in
place when it was called:

- register: an acknowledged ``cas`` that expected version ``e`` returned before the read was
  called, and the read shows a version at most ``e`` (after that write the version is above
  ``e``); or an acknowledged read returned before it and showed a higher version (versions
  never go down);
- set: an acknowledged ``create`` returned before the list was called and the list lacks its
  name; or an acknowledged list returned before it and showed a name it lacks.

Every stale read makes a history non-linearizable; this module names them (which read, on
which process, what it missed and who proved it), so a check can tell "stale reads on a
deposed leader" apart from any other violation, and ``without_reads`` gives the history
minus chosen reads, to check what remains (linearizable writes and the other reads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from swarmcheck.checkers.history import History, Operation
from swarmcheck.errors import StaleReadOnDeposedLeader


@dataclass(frozen=True)
class StaleRead:
    """One stale read and the operation that proves it."""

    read: Operation
    newer: Operation
    missed: str

    def __str__(self) -> str:
        return (
            f"#{self.read.index} {self.read.f} on {self.read.process} (called "
            f"{self.read.call / 1e9:.3f} s) {self.missed}, though #{self.newer.index} "
            f"{self.newer.f} by {self.newer.process} returned before it "
            f"({(self.newer.returned or 0) / 1e9:.3f} s)"
        )


def stale_reads(history: History) -> list[StaleRead]:
    """Every stale read of a history (in call order), each with one operation that proves it.

    One sweep: reads in call order, the acknowledged operations in return order, keeping what
    the operations returned so far prove (the highest version, every name with its witness).
    """
    acknowledged = [op for op in history.operations if op.status == "ok" and op.output is not None]
    reads = sorted((op for op in acknowledged if op.f in ("read", "list")), key=lambda o: o.call)
    proofs = sorted(acknowledged, key=lambda o: o.returned or 0)
    sweep = _RegisterSweep() if history.model == "cas-register" else _SetSweep()
    found: list[StaleRead] = []
    done = 0
    for read in reads:
        while done < len(proofs) and (proofs[done].returned or 0) < read.call:
            sweep.learn(proofs[done])
            done += 1
        stale = sweep.judge(read)
        if stale is not None:
            found.append(stale)
    return found


class _RegisterSweep:
    """The lowest version the register can have now, and the operation that proves it."""

    def __init__(self) -> None:
        self.floor = -1
        self.witness: Operation | None = None

    def learn(self, op: Operation) -> None:
        assert op.output is not None
        # after an acknowledged cas the version is above the one it expected
        cas = op.f == "cas"
        floor = int(op.input["expect_version"]) + 1 if cas else int(op.output["version"])
        if floor > self.floor:
            self.floor, self.witness = floor, op

    def judge(self, read: Operation) -> StaleRead | None:
        assert read.output is not None
        version = int(read.output["version"])
        if self.witness is None or version >= self.floor:
            return None
        op = self.witness
        if op.f == "cas":
            missed = (
                f"shows {read.output['value']!r} at version {version}, older than the "
                f"acknowledged write of {op.input['value']!r} at version "
                f"{op.input['expect_version']}"
            )
        else:
            assert op.output is not None
            missed = (
                f"shows version {version} ({read.output['value']!r}), lower than version "
                f"{op.output['version']} ({op.output['value']!r}) already read"
            )
        return StaleRead(read, op, missed)


class _SetSweep:
    """Every name the set must hold now, each with the first operation that proves it."""

    def __init__(self) -> None:
        self.witness: dict[str, Operation] = {}

    def learn(self, op: Operation) -> None:
        assert op.output is not None
        names = [op.input["name"]] if op.f == "create" else op.output["names"]
        for name in names:
            self.witness.setdefault(str(name), op)

    def judge(self, read: Operation) -> StaleRead | None:
        assert read.output is not None
        missing = set(self.witness) - set(read.output["names"])
        if not missing:
            return None
        name = min(missing, key=lambda n: (self.witness[n].returned or 0, n))
        op = self.witness[name]
        how = "whose create was acknowledged" if op.f == "create" else "that an earlier list showed"
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return StaleRead(read, op, f"lacks {name!r}, {how}{more}")


def without_reads(history: History, drop: Callable[[Operation], bool], why: str) -> History:
    """The history minus the reads ``drop`` selects (renumbered; writes always stay), noted
    in its meta with ``why``: what is left is checked against the same model."""
    kept = [op for op in history.operations if op.f in ("cas", "create") or not drop(op)]
    operations = tuple(replace(op, index=i) for i, op in enumerate(kept))
    meta = {
        **history.meta,
        "without": why,
        "reads_left_out": len(history.operations) - len(kept),
    }
    return replace(history, operations=operations, meta=meta)


def stale_read_failure(
    stale: Sequence[StaleRead], excluded: Callable[[Operation], bool], where: str
) -> StaleReadOnDeposedLeader | None:
    """The failure a non-linearizable history gets when the violation is exactly stale reads
    on a deposed leader: there are stale reads, and every one is among the ``excluded`` reads
    (those the deposed leader served, ``where``). None otherwise: another violation, to be
    reported as itself. The caller has already checked that the history without the excluded
    reads is linearizable."""
    if not stale or not all(excluded(s.read) for s in stale):
        return None
    first = stale[0]
    newest = max(stale, key=lambda s: s.read.call)
    return StaleReadOnDeposedLeader(
        f"{len(stale)} stale read(s) on {where}, between {first.read.call / 1e9:.3f} s and "
        f"{newest.read.call / 1e9:.3f} s; every other operation is linearizable",
        expected="every read shows the writes acknowledged before it was called",
        seen="; ".join(str(s) for s in stale[:3]) + (" ..." if len(stale) > 3 else ""),
    )
