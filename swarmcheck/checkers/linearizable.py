"""Linearizability of a recorded history, judged by the history checker (Go, Porcupine).

``check_linearizable(history, checker)`` prepares the history (the outcome rules of
``checkers.history``), hands it to the checker binary (``machine.history_checker`` builds it;
the caller passes its path, so this module stays a verdict and builds nothing) and returns a
typed verdict: ``ok`` (some order explains every output), ``illegal`` (none does: a broken
promise, with the checker's explanation and, if asked, Porcupine's HTML visualization) or
``unknown`` (the checker timed out: never a pass).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from swarmcheck.checkers.history import FalseFailure, History, outcome_counts, prepare
from swarmcheck.checkers.verdict import Figure, Verdict
from swarmcheck.errors import CheckerError

CheckResult = Literal["ok", "illegal", "unknown"]
RESULT_FORMAT = "swarmcheck-checker-result/1"
DEFAULT_TIMEOUT_S = 60.0

_HEADLINES: dict[CheckResult, str] = {
    "ok": "OK (linearizable)",
    "illegal": "ILLEGAL (not linearizable)",
    "unknown": "UNKNOWN (the checker timed out: not a pass)",
}


@dataclass(frozen=True)
class LinearizabilityVerdict:
    """What the checker decided about one history, and the figures a report shows."""

    model: str
    result: CheckResult
    explanation: str
    counts: dict[str, dict[str, int]]  # outcome_counts of the recorded history
    checked: int
    unknown_outcomes: int
    dropped: int
    false_failures: tuple[FalseFailure, ...]
    elapsed_s: float
    html: Path | None = None
    blocking: int | None = None  # the operation (index) the explanation is about

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def figures(self) -> dict[str, Figure]:
        every = self.counts.get("all", {})
        return {
            "operations": sum(every.values()),
            "ok": every.get("ok", 0),
            "failed": every.get("fail", 0),
            "unknown": every.get("info", 0),
            "checked": self.checked,
            "false failures": len(self.false_failures),
            "check time (s)": round(self.elapsed_s, 3),
        }

    def summary(self) -> str:
        every = self.counts.get("all", {})
        return (
            f"{self.model}: {_HEADLINES[self.result]}; {sum(every.values())} operations "
            f"(ok {every.get('ok', 0)}, failed {every.get('fail', 0)}, unknown "
            f"{every.get('info', 0)}), {self.checked} checked"
        )

    def report(self) -> str:
        """The whole verdict for a person: counts, false failures, explanation, visualization."""
        lines = [f"history: {self.model}"]
        for f, row in sorted(self.counts.items()):
            if f != "all":
                lines.append(f"  {f}: ok {row['ok']}, failed {row['fail']}, unknown {row['info']}")
        lines.append(
            f"checked {self.checked} operations ({self.unknown_outcomes} with an unknown outcome "
            f"that a read shows); not checked {self.dropped} (failed operations, reads without "
            "an answer, unknown writes no read shows)"
        )
        if self.false_failures:
            lines.append(
                f"false failures ({len(self.false_failures)}): writes reported failed that were "
                "applied (checked as unknown)"
            )
            lines.extend(f"  {found}" for found in self.false_failures)
        lines.append(f"verdict: {_HEADLINES[self.result]} in {self.elapsed_s:.2f} s")
        lines.append(self.explanation.rstrip())
        if self.html is not None:
            lines.append(f"visualization: {self.html}")
        return "\n".join(lines)

    def verdict(self, name: str = "linearizable") -> Verdict:
        """A checkers.Verdict; an undecided check raises CheckerError (it never passes)."""
        if self.result == "unknown":
            raise CheckerError(f"{name}: {self.summary()}\n{self.explanation}")
        return Verdict(
            name=name,
            ok=self.ok,
            summary=self.summary(),
            figures=self.figures(),
            expected=None if self.ok else f"some order of the operations explains ({self.model})",
            seen=None if self.ok else self.explanation.rstrip(),
        )

    def assert_ok(self, name: str = "linearizable") -> None:
        """SwarmPromiseBroken when illegal; CheckerError when undecided."""
        self.verdict(name).assert_ok()


def check_linearizable(
    history: History,
    checker: Path,
    *,
    html: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> LinearizabilityVerdict:
    """Judge ``history`` with the checker binary at ``checker``; on a violation, Porcupine's
    visualization goes to ``html`` when given. CheckerError when the checker cannot answer."""
    prepared = prepare(history)
    if timeout_s <= 0:
        raise CheckerError(f"the check's timeout must be positive, not {timeout_s}")
    # in nanoseconds: Go's durations have no exponent notation, and 0 would mean "never"
    command = [str(checker), "-json", "-timeout", f"{max(1, round(timeout_s * 1e9))}ns"]
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        command += ["-html", str(html)]
    command.append("-")
    payload = json.dumps(prepared.checker_input())
    try:
        # the verbose re-check of a violation may take a second timeout
        done = subprocess.run(
            command, input=payload, capture_output=True, text=True, timeout=2 * timeout_s + 60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CheckerError(f"the history checker {checker} did not answer: {exc}") from exc
    if done.returncode not in (0, 1, 3):
        raise CheckerError(
            f"the history checker refused the prepared history (exit {done.returncode}): "
            f"{done.stderr.strip()}"
        )
    result = _result(done.stdout)
    return LinearizabilityVerdict(
        model=history.model,
        result=result["result"],
        explanation=str(result.get("explanation", "")),
        counts=outcome_counts(history),
        checked=len(prepared.operations),
        unknown_outcomes=int(result.get("unknown_outcomes", 0)),
        dropped=len(prepared.dropped),
        false_failures=prepared.false_failures,
        elapsed_s=float(result.get("elapsed_s", 0.0)),
        html=Path(result["html"]) if result.get("html") else None,
        blocking=result.get("blocking"),
    )


def _result(stdout: str) -> dict[str, Any]:
    try:
        result = json.loads(stdout)
    except ValueError as exc:
        raise CheckerError(
            f"the history checker printed no JSON result: {stdout[-500:]!r}"
        ) from exc
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        raise CheckerError(f"the history checker's answer is not {RESULT_FORMAT}: {result!r}")
    if result.get("result") not in _HEADLINES:
        raise CheckerError(f"the history checker answered {result.get('result')!r}")
    return result
