"""The result every checker returns: pass/fail, a one-line summary and figures for the report."""

from __future__ import annotations

from collections.abc import Mapping
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
