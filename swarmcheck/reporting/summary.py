"""The end-of-run terminal summary: counts per area, why things were skipped or failed,
what was measured, and where the report is. Pure formatting; the plugin prints it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from swarmcheck.cluster.kept import KeptCluster, local_time
from swarmcheck.labels import KEEP_HOURS

__all__ = ["WIDTH", "Outcome", "Status", "format_figure", "format_kept", "format_summary"]

Status = Literal["passed", "failed", "skipped", "error"]
WIDTH = 100  # terminal columns the summary is laid out for


@dataclass(frozen=True)
class Outcome:
    """One test's result as the summary needs it."""

    test_id: str  # e.g. "SC-HEAL-001"
    area: str  # e.g. "heal"
    name: str
    status: Status
    reason: str | None = None
    figures: Mapping[str, float | str] = field(default_factory=dict)
    reruns: int = 0
    """Failed attempts pytest-rerunfailures repeated before this, the final outcome."""


def _clip(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return "(no reason given)"


def format_figure(value: float | str) -> str:
    """Figures as a person reads them: 6.2, 0.00031, 12840, not 6.199999999."""
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    if abs(value) >= 1e4:
        return f"{value:.0f}"
    return format(value, ".4g")


def _wrap_items(head: str, items: Iterable[str], indent: int) -> list[str]:
    """``head item item ...`` wrapped at WIDTH, continuation lines indented."""
    lines: list[str] = []
    current = head
    for item in items:
        if len(current) + 1 + len(item) > WIDTH and current.strip():
            lines.append(_clip(current))
            current = " " * indent + item
        else:
            current = f"{current} {item}" if current else item
    lines.append(_clip(current))
    return lines


def _counts_table(outcomes: Sequence[Outcome]) -> list[str]:
    areas = sorted({o.area for o in outcomes})
    with_errors = any(o.status == "error" for o in outcomes)
    columns: list[Status] = ["passed", "failed", "skipped"]
    if with_errors:
        columns.append("error")
    area_w = min(max([len("area"), *(len(a) for a in areas)]), 40)
    header = f"  {'area':<{area_w}}" + "".join(f"  {c:>7}" for c in columns)
    rows = [header]
    for area in areas:
        mine = [o for o in outcomes if o.area == area]
        counts = "".join(f"  {sum(o.status == c for o in mine):>7}" for c in columns)
        rows.append(f"  {_clip(area, area_w):<{area_w}}{counts}")
    return rows


def _label(o: Outcome) -> str:
    return f"{o.test_id} {o.name}" if o.name and o.name != o.test_id else o.test_id


def format_summary(outcomes: Sequence[Outcome], report_path: Path | str | None) -> str:
    """Multi-line summary for a 100-column terminal (no trailing newline)."""
    total = len(outcomes)
    by_status = {
        s: [o for o in outcomes if o.status == s] for s in ("passed", "failed", "skipped", "error")
    }
    headline = (
        f"swarmcheck: {total} test{'s' if total != 1 else ''}: "
        f"{len(by_status['passed'])} passed, {len(by_status['failed'])} failed, "
        f"{len(by_status['skipped'])} skipped"
    )
    if by_status["error"]:
        errors = len(by_status["error"])
        headline += f", {errors} error{'s' if errors != 1 else ''}"
    lines = [headline]
    if outcomes:
        lines += _counts_table(outcomes)

    if by_status["skipped"]:
        lines.append("skipped:")
        lines += [_clip(f"  {_label(o)}: {_first_line(o.reason)}") for o in by_status["skipped"]]
    problems = by_status["failed"] + by_status["error"]
    if problems:
        lines.append("failed:")
        for o in problems:
            tag = "ERROR " if o.status == "error" else ""
            lines.append(_clip(f"  {tag}{_label(o)}: {_first_line(o.reason)}"))

    retried = [o for o in outcomes if o.reruns]
    if retried:
        lines.append("rerun (final outcome counted above):")
        for o in retried:
            times = f"{o.reruns} rerun{'s' if o.reruns != 1 else ''}"
            lines.append(_clip(f"  {_label(o)}: {o.status} after {times}"))

    measured = [o for o in outcomes if o.figures]
    if measured:
        lines.append("measured:")
        for o in measured:
            items = [f"{k}={format_figure(v)}" for k, v in o.figures.items()]
            lines += _wrap_items(f"  {o.test_id}", items, indent=len(o.test_id) + 3)

    if report_path is not None:
        lines.append(f"report: {report_path}")  # never clipped: people copy it
    else:
        lines.append("report: none generated")
    return "\n".join(lines)


def format_kept(kept: Sequence[KeptCluster], not_kept: Mapping[str, str]) -> str:
    """The clusters --swarm-keep-on-failure kept: for each, the failed tests, how to reach
    each node and how to remove it; then the failed tests whose cluster was not kept, and
    why. Commands are never clipped: people copy them."""
    clusters = list({k.run_id: k for k in kept}.values())
    lines = []
    if clusters:
        many = len(clusters) != 1
        lines.append(
            f"kept {len(clusters)} cluster{'s' if many else ''} after "
            f"{'failed checks' if many else 'a failed check'} (--swarm-keep-on-failure): "
            f"{'each as its' if many else 'as the'} check left it (not reset), but with no "
            "fault active (faults are healed first)"
        )
    for k in clusters:
        lines.append(f"  cluster {k.run_id}, kept for {', '.join(k.tests) or 'a failed check'}")
        width = max(len(n.name) for n in k.nodes) if k.nodes else 0
        for n in k.nodes:
            look = "docker node ls" if n.role == "manager" else "docker info"
            if n.state != "running":  # the check stopped or paused it (not through a fault)
                wake = "unpause" if n.state == "paused" else "start"
                lines.append(
                    f"    {n.name:<{width}}  {n.state} when kept (the check left it so): "
                    f"docker {wake} {n.container}"
                )
            lines.append(f"    {n.name:<{width}}  docker exec -it {n.container} sh")
            lines.append(f"    {'':<{width}}  DOCKER_HOST=unix://{n.socket} {look}")
        lines.append(f"    remove it: swarmcheck sweep --run {k.run_id}")
    if clusters:
        until = min(k.until for k in clusters)
        lines.append(
            f"  later runs' sweeps leave kept clusters {KEEP_HOURS} h (the first until "
            f"{local_time(until)}); `swarmcheck sweep --kept` removes every kept cluster now"
        )
    if not_kept:
        lines.append("failed, cluster not kept:")
        lines += [_clip(f"  {test}: {why}") for test, why in not_kept.items()]
    return "\n".join(lines)
