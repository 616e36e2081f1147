"""Whether a history spreads over a fault: acknowledged reads and writes before, during and
after it.

A history with nothing acknowledged during the fault is trivially linearizable there, so a
check under a fault asserts this before it trusts the checker's "ok" (docs/consistency.md).
"""

from __future__ import annotations

from swarmcheck.checkers.history import MODELS, History
from swarmcheck.checkers.verdict import Verdict

PHASES = ("before", "during", "after")


def acknowledged_by_phase(history: History, start: int, end: int) -> dict[str, dict[str, int]]:
    """``{phase: {"reads": n, "writes": n}}`` of acknowledged operations by when they were
    called: before ``start``, from it to ``end``, after ``end``."""
    spec = MODELS[history.model]
    counts = {phase: {"reads": 0, "writes": 0} for phase in PHASES}
    for op in history.operations:
        if op.status != "ok":
            continue
        phase = "before" if op.call < start else "during" if op.call <= end else "after"
        counts[phase]["writes" if op.f in spec.writes else "reads"] += 1
    return counts


def check_spread(history: History, start_label: str, end_label: str) -> Verdict:
    """Acknowledged reads and writes called before the mark ``start_label``, between it and
    ``end_label``, and after it; figures ``<phase>_reads`` / ``<phase>_writes``."""
    counts = acknowledged_by_phase(
        history, history.mark_time(start_label), history.mark_time(end_label)
    )
    empty = [
        f"{kind} {phase}" for phase, row in counts.items() for kind, n in row.items() if n == 0
    ]
    figures = {f"{phase}_{kind}": n for phase, row in counts.items() for kind, n in row.items()}
    summary = ", ".join(
        f"{phase}: {row['reads']} reads, {row['writes']} writes" for phase, row in counts.items()
    )
    return Verdict(
        name=f"{history.model} history spreads over the fault",
        ok=not empty,
        summary=f"acknowledged operations by phase ({summary})",
        figures=figures,
        expected=None if not empty else "acknowledged reads and writes before, during and after",
        seen=None if not empty else "none acknowledged: " + ", ".join(empty),
    )
