"""The compatibility matrix: the same checks run once per engine, put side by side.

Each engine's run writes ``outcomes.json`` (every check's status, reason and figures, and the
versions its engines reported). This module reads those files, merges them into one matrix
(check x engine), finds what differs between engines and renders the result as Markdown, as a
self-contained HTML page and as an Allure result carrying that page. Pure: files in, text out.

What counts as a difference:
- **behaviour**: a check's status differs (passed on one engine, failed or skipped on another);
- **message**: the same non-passing status with a different reason, or a text figure (a
  refusal a check recorded) that differs, once run-specific details (ids, addresses, times)
  are masked;
- **figure**: a measured number moved by more than 2x between engines, and by more than the
  noise floor of its unit (1 s for ``*_s``, 100 ms for ``*_ms``, 1 for counts), so a 0.02 s
  vs 0.05 s wobble is not called a change.

A check that does not apply to an engine's run is compared only between the engines it
applies to: the release checks skip on the oldest engine, which has no older one to mix with
or upgrade from (``not_applicable``); the matrix still shows that skip and its reason.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from swarmcheck.reporting.summary import Outcome, Status, format_figure
from swarmcheck.spec import NO_OLDER_ENGINE

__all__ = [
    "OUTCOMES_FILE",
    "Difference",
    "EngineRun",
    "Result",
    "differences",
    "figure_moved",
    "normalize_message",
    "not_applicable",
    "read_run",
    "render_html",
    "render_markdown",
    "result_key",
    "settle",
    "unconfirmed",
    "write_allure_result",
    "write_outcomes",
]

OUTCOMES_FILE = "outcomes.json"
RATIO = 2.0
"""A figure 'moved' when the largest value is more than this many times the smallest."""
TEXT_FIGURES_NOT_MESSAGES = frozenset(
    {"answers", "engines", "from", "to", "probe_hosts", "seed", "addresses"}
)
"""Text figures that describe the run (versions, counts, where a probe ran), not a message
the engine printed: they differ between engines by nature."""
_CLIP = 140

Kind = Literal["behaviour", "message", "figure"]


@dataclass(frozen=True)
class Result:
    """One check's outcome in one engine's run."""

    key: str
    """The check id, plus the parameters of a parametrized check: ``SC-REL-004[old-to-new]``."""
    id: str
    area: str
    name: str
    status: Status
    reason: str | None = None
    figures: Mapping[str, float | int | str] = field(default_factory=dict)
    runs: int = 1
    """How many runs this result stands for (re-runs confirm a difference, see ``settle``)."""
    tally: str = ""
    """What the runs saw, when more than one: ``3 runs: 2 passed, 1 failed``."""


@dataclass(frozen=True)
class EngineRun:
    """One engine's run: what it tested and every check's result."""

    engine: str
    """The engine as asked for: a Debian suite or a dind image."""
    label: str
    version: str
    """The engine version its nodes reported ('' when no swarm was started)."""
    results: tuple[Result, ...] = ()
    returncode: int | None = None
    duration_s: float | None = None
    problem: str | None = None
    """Why the run produced no results (it crashed, a usage error), if it did not."""
    directory: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)
    """Every engine the run started (mixed-version checks start two) -> its version."""
    reruns: tuple[tuple[Result, ...], ...] = ()
    """Results of the re-runs of the checks that differed (``swarmcheck matrix --confirm``)."""

    def result(self, key: str) -> Result | None:
        for result in self.results:
            if result.key == key:
                return result
        return None

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)


@dataclass(frozen=True)
class Difference:
    """Something a check saw differently on different engines."""

    kind: Kind
    key: str
    subject: str
    """'status', 'reason', or the figure's name."""
    values: Mapping[str, str]
    """Engine -> the value shown for it."""
    note: str = ""


# -- outcomes.json ---------------------------------------------------------------------------
def result_key(check_id: str, name: str) -> str:
    """``SC-REL-004`` + ``test_x[old-to-new]`` -> ``SC-REL-004[old-to-new]``."""
    params = name[name.index("[") :] if "[" in name and name.endswith("]") else ""
    return f"{check_id}{params}"


def outcomes_document(
    engine: str,
    label: str,
    versions: Mapping[str, str],
    outcomes: Iterable[Outcome],
) -> dict[str, Any]:
    """What ``write_outcomes`` writes: the run's engine, its versions, every outcome."""
    return {
        "engine": engine,
        "label": label,
        "version": versions.get(engine, ""),
        "versions": dict(versions),
        "outcomes": [
            {
                "key": result_key(o.test_id, o.name),
                "id": o.test_id,
                "area": o.area,
                "name": o.name,
                "status": o.status,
                "reason": o.reason,
                "figures": dict(o.figures),
            }
            for o in outcomes
        ],
    }


def write_outcomes(
    path: Path,
    engine: str,
    label: str,
    versions: Mapping[str, str],
    outcomes: Iterable[Outcome],
) -> Path:
    """Write a run's outcomes as JSON (for the matrix, and any tool that reads results)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = outcomes_document(engine, label, versions, outcomes)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def read_run(
    path: Path,
    engine: str,
    *,
    returncode: int | None = None,
    duration_s: float | None = None,
) -> EngineRun:
    """An engine's run from its ``outcomes.json``; a missing or unreadable file is a run
    with a problem (it crashed before any check ran), never an empty pass."""
    directory = str(path.parent)
    try:
        data = json.loads(path.read_text())
        results = tuple(
            Result(
                key=str(o["key"]),
                id=str(o["id"]),
                area=str(o["area"]),
                name=str(o["name"]),
                status=o["status"],
                reason=o.get("reason"),
                figures=dict(o.get("figures") or {}),
            )
            for o in data["outcomes"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return EngineRun(
            engine=engine,
            label=engine,
            version="",
            returncode=returncode,
            duration_s=duration_s,
            problem=f"no results from this engine's run ({type(exc).__name__}: {exc}); "
            f"see {directory}/pytest.log",
            directory=directory,
        )
    return EngineRun(
        engine=engine,
        label=str(data.get("label") or engine),
        version=str(data.get("version") or ""),
        results=results,
        returncode=returncode,
        duration_s=duration_s,
        directory=directory,
        versions=dict(data.get("versions") or {}),
    )


# -- differences ---------------------------------------------------------------------------
_MASKS = (
    (re.compile(r"\b[0-9a-f]{10,64}\b"), "<id>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<addr>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b"), "<time>"),
    (re.compile(r"\bt=\d+(?:\.\d+)?s?\.\.\d+(?:\.\d+)?s?"), "t=<window>"),
    (re.compile(r"0x[0-9a-f]+"), "<ptr>"),
    (re.compile(r"\b[0-9a-z]{25}\b"), "<id>"),  # swarm object ids
)


def normalize_message(text: str | None) -> str:
    """A message with what differs from run to run masked (ids, addresses, times), so two
    engines printing the same refusal compare equal."""
    out = text or ""
    for pattern, mask in _MASKS:
        out = pattern.sub(mask, out)
    return " ".join(out.split())


def _floor(name: str) -> float:
    if name.endswith("_ms"):
        return 100.0
    if name.endswith("_s"):
        return 1.0
    return 1.0


def figure_moved(name: str, values: Iterable[float]) -> bool:
    """Whether a figure moved by more than 2x between engines (and beyond its noise floor)."""
    numbers = [float(v) for v in values]
    if len(numbers) < 2:
        return False
    low, high = min(numbers), max(numbers)
    return high > RATIO * low and high - low >= _floor(name)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status_cell(result: Result | None) -> str:
    if result is None:
        return "not run"
    tally = f" ({result.tally})" if result.tally else ""
    if result.status == "passed":
        return "passed" + tally
    return f"{result.status}{tally}: {_clip(result.reason)}"


def _keys(runs: Sequence[EngineRun]) -> list[str]:
    """Every check key of every run, ordered by id and then as first seen."""
    seen: dict[str, tuple[str, int]] = {}
    for run in runs:
        for result in run.results:
            seen.setdefault(result.key, (result.id, len(seen)))
    return sorted(seen, key=lambda k: seen[k])


_WORST_FIRST: tuple[Status, ...] = ("error", "failed", "skipped", "passed")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def settle(run: EngineRun) -> EngineRun:
    """One result per check from the first run and its re-runs: the most common status (on a
    tie the worse one), a reason of that status, each numeric figure's median; the tally of
    statuses when there was more than one run. Without re-runs, the run itself."""
    if not run.reruns:
        return run
    settled = []
    for first in run.results:
        samples = [first] + [r for rerun in run.reruns for r in rerun if r.key == first.key]
        if len(samples) == 1:
            settled.append(first)
            continue
        counts = {s: sum(r.status == s for r in samples) for s in _WORST_FIRST}
        status = max(_WORST_FIRST, key=lambda s: (counts[s], -_WORST_FIRST.index(s)))
        reason = next((r.reason for r in samples if r.status == status), None)
        figures: dict[str, float | int | str] = {}
        for name in first.figures:
            values = [r.figures[name] for r in samples if name in r.figures]
            numbers = [float(v) for v in values if _numeric(v)]
            figures[name] = round(_median(numbers), 3) if len(numbers) == len(values) else values[0]
        tally = f"{len(samples)} runs: " + ", ".join(
            f"{counts[s]} {s}" for s in reversed(_WORST_FIRST) if counts[s]
        )
        settled.append(
            replace(
                first, status=status, reason=reason, figures=figures, runs=len(samples), tally=tally
            )
        )
    return replace(run, results=tuple(settled), reruns=())


def unconfirmed(runs: Sequence[EngineRun]) -> list[Difference]:
    """Differences the first runs showed that the re-runs did not confirm (noise, a flaky
    check): reported apart, never dropped silently."""
    if not any(r.reruns for r in runs):
        return []
    first_only = [replace(r, reruns=()) for r in runs]
    kept = {(d.kind, d.key, d.subject) for d in differences(runs)}
    return [d for d in differences(first_only) if (d.kind, d.key, d.subject) not in kept]


def not_applicable(result: Result | None) -> bool:
    """Whether a result says the check does not apply to that engine's run (a property of
    the run, not a behaviour of its engine): skipped for want of an older engine."""
    return (
        result is not None
        and result.status == "skipped"
        and (result.reason or "").startswith(NO_OLDER_ENGINE)
    )


def differences(runs: Sequence[EngineRun]) -> list[Difference]:
    """Everything a check saw differently on different engines, after ``settle`` (runs without
    results are reported as run problems, not as a difference per check), among the engines
    the check applies to."""
    usable = [settle(r) for r in runs if r.problem is None]
    found: list[Difference] = []
    if len(usable) < 2:
        return found
    for key in _keys(usable):
        per = {run.engine: run.result(key) for run in usable}
        per = {e: r for e, r in per.items() if not not_applicable(r)}
        if len(per) < 2:
            continue
        statuses = {e: (r.status if r else "not run") for e, r in per.items()}
        if len(set(statuses.values())) > 1:
            found.append(
                Difference(
                    "behaviour",
                    key,
                    "status",
                    {e: _status_cell(r) for e, r in per.items()},
                    " vs ".join(
                        f"{s} on {e}" + (f" ({r.tally})" if r and r.tally else "")
                        for (e, s), r in zip(statuses.items(), per.values(), strict=True)
                    ),
                )
            )
        else:
            reasons = {e: r.reason for e, r in per.items() if r and r.status != "passed"}
            if len({normalize_message(v) for v in reasons.values()}) > 1:
                found.append(
                    Difference(
                        "message",
                        key,
                        "reason",
                        {e: _clip(v) for e, v in reasons.items()},
                        f"the {next(iter(statuses.values()))} reason differs",
                    )
                )
        found += _figure_differences(key, per)
    return found


def _figure_names(per: Mapping[str, Result | None]) -> list[str]:
    """Every figure any engine's result of one check has, in the order first seen."""
    names: dict[str, None] = {}
    for result in per.values():
        for name in result.figures if result else ():
            names.setdefault(name)
    return list(names)


def _figure_differences(key: str, per: Mapping[str, Result | None]) -> list[Difference]:
    found = []
    for name in _figure_names(per):
        values = {e: r.figures[name] for e, r in per.items() if r and name in r.figures}
        if len(values) < 2:
            continue
        shown = {e: format_figure(v) for e, v in values.items()}
        numbers = {e: float(v) for e, v in values.items() if _numeric(v)}
        if len(numbers) == len(values):
            if figure_moved(name, numbers.values()):
                low, high = min(numbers.values()), max(numbers.values())
                ratio = f"{high / low:.1f}x" if low else "from 0"
                runs = max((r.runs for r in per.values() if r), default=1)
                note = f"moved {ratio}" + (f" (medians of {runs} runs)" if runs > 1 else "")
                found.append(Difference("figure", key, name, shown, note))
        elif (
            name not in TEXT_FIGURES_NOT_MESSAGES
            and len({normalize_message(str(v)) for v in values.values()}) > 1
        ):
            found.append(Difference("message", key, name, shown, "the recorded text differs"))
    return found


# -- rendering -------------------------------------------------------------------------------
def _clip(text: str | None, width: int = _CLIP) -> str:
    line = " ".join((text or "").split()) or "(no reason given)"
    return line if len(line) <= width else line[: width - 1] + "…"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _engine_head(run: EngineRun) -> str:
    return f"{run.label}" + (f" ({run.version})" if run.version else "")


def _figure_rows(runs: Sequence[EngineRun]) -> list[tuple[str, str, dict[str, str], bool]]:
    rows = []
    for key in _keys(runs):
        per = {run.engine: run.result(key) for run in runs}
        for name in _figure_names(per):
            values = {e: r.figures[name] for e, r in per.items() if r and name in r.figures}
            numbers = [float(v) for v in values.values() if _numeric(v)]
            moved = len(numbers) == len(values) and figure_moved(name, numbers)
            rows.append((key, name, {e: format_figure(v) for e, v in values.items()}, moved))
    return rows


def _diff_table(diffs: Sequence[Difference], engines: Sequence[str], heads: str) -> list[str]:
    lines = [f"| check | what | {heads} | note |", "|---|---|" + "---|" * len(engines) + "---|"]
    for d in diffs:
        cells = " | ".join(_md(d.values.get(e, "-")) for e in engines)
        lines.append(f"| {d.key} | {_md(d.subject)} | {cells} | {_md(d.note)} |")
    return lines


def render_markdown(
    runs: Sequence[EngineRun], diffs: Sequence[Difference], noise: Sequence[Difference] = ()
) -> str:
    """The matrix as a Markdown page: engines, differences (and those re-runs did not
    confirm), every check, every figure. Checks that were re-run show the settled result."""
    runs = [settle(r) for r in runs]
    engines = [r.engine for r in runs]
    heads = " | ".join(_md(r.label) for r in runs)
    lines = [
        "# Compatibility matrix",
        "",
        f"The same checks, run once per engine: {', '.join(engines)}. Generated by "
        "`swarmcheck matrix`; each engine's own reports are in its folder.",
        "",
        *_md_engines(runs),
        "",
        f"## Differences between engines ({len(diffs)})",
        "",
        *_md_differences(diffs, noise, engines, heads),
        "",
        "## Checks",
        "",
        f"| check | area | {heads} |",
        "|---|---|" + "---|" * len(runs),
    ]
    for key in _keys(runs):
        per = [run.result(key) for run in runs]
        area = next(r.area for r in per if r is not None)
        cells = " | ".join(_md(_status_cell(r)) for r in per)
        lines.append(f"| {key} | {area} | {cells} |")
    lines += [
        "",
        "## Figures",
        "",
        f"Measured by the checks, side by side; **bold**: moved more than {RATIO:g}x.",
        "",
        f"| check | figure | {heads} |",
        "|---|---|" + "---|" * len(runs),
    ]
    for key, name, values, moved in _figure_rows(runs):
        cells = " | ".join(
            (f"**{values[e]}**" if moved and e in values else _md(values.get(e, "-")))
            for e in engines
        )
        lines.append(f"| {key} | {name} | {cells} |")
    return "\n".join(lines) + "\n"


def _md_engines(runs: Sequence[EngineRun]) -> list[str]:
    """One row per engine's run, then the runs that gave no results and why."""
    lines = [
        "| engine | version | passed | failed | skipped | error | time | exit | results |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for run in runs:
        lines.append(
            f"| {_md(run.label)} | {run.version or '-'} | {run.count('passed')} | "
            f"{run.count('failed')} | {run.count('skipped')} | {run.count('error')} | "
            f"{_duration(run.duration_s)} | "
            f"{'-' if run.returncode is None else run.returncode} | `{run.directory}` |"
        )
    problems = [r for r in runs if r.problem]
    if problems:
        lines += ["", "**Runs without results:**", ""]
        lines += [f"- {_md(r.label)}: {_md(r.problem or '')}" for r in problems]
    return lines


def _md_differences(
    diffs: Sequence[Difference], noise: Sequence[Difference], engines: list[str], heads: str
) -> list[str]:
    """The differences by kind, then those the re-runs did not confirm."""
    lines = [] if diffs else ["None: every check saw the same on every engine."]
    for kind, title in (
        ("behaviour", "Behaviour changed (status)"),
        ("message", "Message changed"),
        ("figure", f"Figure moved more than {RATIO:g}x"),
    ):
        mine = [d for d in diffs if d.kind == kind]
        if not mine:
            continue
        lines += [f"### {title} ({len(mine)})", "", *_diff_table(mine, engines, heads), ""]
    if noise:
        lines += [
            f"### Not confirmed by the re-runs ({len(noise)})",
            "",
            "The first runs differed here; the re-runs of these checks did not (noise of a "
            "busy machine, or a flaky check):",
            "",
            *_diff_table(noise, engines, heads),
            "",
        ]
    return lines


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:13px}
th{background:#f3f3f3}
.passed{background:#e6f4e6}.failed,.error{background:#fbe3e3}.skipped{background:#fdf6dc}
.missing{background:#eee}.moved{font-weight:bold;background:#fde9d9}
code{font-size:12px}
"""


def _td(text: str, css: str = "", title: str = "") -> str:
    attrs = f' class="{css}"' if css else ""
    if title:
        attrs += f' title="{html.escape(title)}"'
    return f"<td{attrs}>{html.escape(text)}</td>"


def render_html(
    runs: Sequence[EngineRun], diffs: Sequence[Difference], noise: Sequence[Difference] = ()
) -> str:
    """The matrix as one self-contained HTML page (no scripts, no external files)."""
    runs = [settle(r) for r in runs]
    engines = [r.engine for r in runs]
    heads = "".join(f"<th>{html.escape(_engine_head(r))}</th>" for r in runs)
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Compatibility matrix</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Compatibility matrix</h1>",
        f"<p>The same checks, run once per engine: {html.escape(', '.join(engines))}.</p>",
        *_html_engines(runs),
        f"<h2>Differences between engines ({len(diffs)})</h2>",
        *_html_differences(diffs, noise, engines, heads),
        f"<h2>Checks</h2><table><tr><th>check</th><th>area</th>{heads}</tr>",
    ]
    for key in _keys(runs):
        per = [run.result(key) for run in runs]
        area = next(r.area for r in per if r is not None)
        cells = "".join(
            _td(_status_cell(r), r.status if r else "missing", (r.reason or "") if r else "")
            for r in per
        )
        out.append(f"<tr>{_td(key)}{_td(area)}{cells}</tr>")
    out.append(f"</table><h2>Figures</h2><table><tr><th>check</th><th>figure</th>{heads}</tr>")
    for key, name, values, moved in _figure_rows(runs):
        cells = "".join(_td(values.get(e, "-"), "moved" if moved else "") for e in engines)
        out.append(f"<tr>{_td(key)}{_td(name)}{cells}</tr>")
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"


def _html_engines(runs: Sequence[EngineRun]) -> list[str]:
    out = [
        "<table><tr><th>engine</th><th>version</th><th>passed</th><th>failed</th>"
        "<th>skipped</th><th>error</th><th>time</th><th>results</th></tr>",
    ]
    for run in runs:
        out.append(
            "<tr>"
            + _td(run.label)
            + _td(run.version or "-")
            + _td(str(run.count("passed")), "passed")
            + _td(str(run.count("failed")), "failed" if run.count("failed") else "")
            + _td(str(run.count("skipped")), "skipped" if run.count("skipped") else "")
            + _td(str(run.count("error")), "error" if run.count("error") else "")
            + _td(_duration(run.duration_s))
            + _td(run.problem or run.directory, "failed" if run.problem else "")
            + "</tr>"
        )
    out.append("</table>")
    return out


def _html_differences(
    diffs: Sequence[Difference], noise: Sequence[Difference], engines: list[str], heads: str
) -> list[str]:
    if not diffs:
        out = ["<p>None: every check saw the same on every engine.</p>"]
    else:
        out = [f"<table><tr><th>kind</th><th>check</th><th>what</th>{heads}<th>note</th></tr>"]
        for d in diffs:
            cells = "".join(
                _td(d.values.get(e, "-"), "moved" if d.kind != "message" else "") for e in engines
            )
            out.append(f"<tr>{_td(d.kind)}{_td(d.key)}{_td(d.subject)}{cells}{_td(d.note)}</tr>")
        out.append("</table>")
    if noise:
        out.append(f"<h3>Not confirmed by the re-runs ({len(noise)})</h3><table><tr>")
        out.append(f"<th>kind</th><th>check</th><th>what</th>{heads}<th>note</th></tr>")
        for d in noise:
            cells = "".join(_td(d.values.get(e, "-")) for e in engines)
            out.append(f"<tr>{_td(d.kind)}{_td(d.key)}{_td(d.subject)}{cells}{_td(d.note)}</tr>")
        out.append("</table>")
    return out


def write_allure_result(
    results_dir: Path,
    runs: Sequence[EngineRun],
    diffs: Sequence[Difference],
    page: str,
    markdown: str,
) -> Path:
    """Add the matrix to an Allure results folder as one result ("Compatibility matrix",
    suite release) whose attachments are the HTML page and the Markdown, so the HTML report
    carries it next to every engine's checks. Failed when a check failed on any engine."""
    results_dir.mkdir(parents=True, exist_ok=True)
    result_id = str(uuid.uuid4())
    page_file = f"{uuid.uuid4()}-attachment.html"
    markdown_file = f"{uuid.uuid4()}-attachment.md"
    (results_dir / page_file).write_text(page)
    (results_dir / markdown_file).write_text(markdown)
    failing = any(r.problem or r.count("failed") or r.count("error") for r in runs)
    now = int(time.time() * 1000)
    engines = ", ".join(r.engine for r in runs)
    document = {
        "uuid": result_id,
        "historyId": f"swarmcheck-matrix-{engines}",
        "testCaseId": "swarmcheck-matrix",
        "fullName": "swarmcheck.matrix",
        "name": f"Compatibility matrix: {engines}",
        "status": "failed" if failing else "passed",
        "statusDetails": {"message": f"{len(diffs)} differences between engines"},
        "stage": "finished",
        "description": f"{len(diffs)} differences between engines; the matrix is attached.",
        "start": now,
        "stop": now,
        "labels": [
            {"name": "parentSuite", "value": "release"},
            {"name": "suite", "value": "compatibility matrix"},
            {"name": "feature", "value": "release"},
            {"name": "story", "value": "compatibility matrix"},
        ],
        "parameters": [{"name": "engines", "value": engines}],
        "attachments": [
            {"name": "compatibility matrix", "source": page_file, "type": "text/html"},
            {"name": "matrix.md", "source": markdown_file, "type": "text/markdown"},
        ],
    }
    path = results_dir / f"{result_id}-result.json"
    path.write_text(json.dumps(document, indent=2))
    return path
