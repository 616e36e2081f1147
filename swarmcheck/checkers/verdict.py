"""The result every checker returns: pass/fail, a one-line summary and figures for the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmcheck.errors import SwarmPromiseBroken

Figure = float | int | str


@dataclass(frozen=True)
class Verdict:
    """A checker's judgement; ``expected``/``seen`` explain a failure to a human."""

    name: str
    ok: bool
    summary: str
    figures: Mapping[str, Figure]
    expected: str | None = None
    seen: str | None = None

    def assert_ok(self) -> None:
        """Raise ``SwarmPromiseBroken`` (a pytest failure) if the invariant was broken."""
        if not self.ok:
            raise SwarmPromiseBroken(
                f"{self.name}: {self.summary}", expected=self.expected, seen=self.seen
            )


def assert_all(verdicts: Sequence[Verdict]) -> None:
    """Raise one ``SwarmPromiseBroken`` naming every failed verdict (none failed: return)."""
    failed = [v for v in verdicts if not v.ok]
    if not failed:
        return
    if len(failed) == 1:
        failed[0].assert_ok()
    raise SwarmPromiseBroken(
        "; ".join(f"{v.name}: {v.summary}" for v in failed),
        expected="; ".join(f"{v.name}: {v.expected}" for v in failed if v.expected),
        seen="; ".join(f"{v.name}: {v.seen}" for v in failed if v.seen),
    )


def figures_of(**verdicts: Verdict) -> dict[str, Figure]:
    """Every verdict's figures for the report, each name prefixed with its keyword."""
    return {
        f"{key}.{name}": value
        for key, verdict in verdicts.items()
        for name, value in verdict.figures.items()
    }
