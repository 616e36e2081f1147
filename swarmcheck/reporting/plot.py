"""Availability-and-latency chart of a workload during a chaos test, as a standalone SVG.

Pure string building (no plotting library), so a report attachment costs nothing to make and
renders the same in any browser. Layout is fixed at 900x360 and scales through ``viewBox``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from swarmcheck.checkers.availability import gap_between_successes

__all__ = ["AvailabilityFigures", "availability_figures", "render_availability_svg"]

PlotPoint = tuple[float, bool, float | None]
"""(seconds since start, ok, latency in ms) of one probe, as plotted."""
ShadedSpan = tuple[float, float, str]
"""(start, end, label) of a fault window, shaded on the plot."""

WIDTH, HEIGHT = 900, 360
_LEFT, _RIGHT = 64, 884  # plot area x range
_TITLE_Y, _LEGEND_Y = 22, 42  # baselines of the title and the legend rows
_BAND_TOP, _BAND_BOTTOM = 54, 72  # success/failure ticks
_PLOT_TOP, _PLOT_BOTTOM = 84, 286  # latency area
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_OK, _FAIL, _LINE, _FAULT, _FAULT_TEXT = "#2e7d32", "#c62828", "#1565c0", "#ff9800", "#a84300"
_GRID, _AXIS, _MUTED = "#e3e3e3", "#555555", "#666666"
_CHAR_W = 6.3  # rough width of one 11px character, for label placement


@dataclass(frozen=True)
class AvailabilityFigures:
    """Numbers the caption prints; also handy for a test's measured figures."""

    probes: int
    failures: int
    success_ratio: float | None  # None when there were no probes
    longest_gap_s: float  # longest stretch without a successful probe, success to success
    longest_gap_start: float | None


def availability_figures(probes: Sequence[PlotPoint]) -> AvailabilityFigures:
    """Count probes and failures and find the longest gap, as the availability checker
    defines it (``checkers.availability.gap_between_successes``): from the last success
    before an outage to the first success after it."""
    ordered = sorted(probes, key=lambda p: p[0])
    failures = sum(1 for _, ok, _ in ordered if not ok)
    gap, start, _ = gap_between_successes([(t, ok) for t, ok, _ in ordered])
    ratio = (len(ordered) - failures) / len(ordered) if ordered else None
    return AvailabilityFigures(len(ordered), failures, ratio, gap, start if ordered else None)


def _nice_step(span: float, target_ticks: int) -> float:
    """A 1/2/5 x 10^k step that cuts ``span`` into about ``target_ticks`` pieces."""
    raw = span / max(target_ticks, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def _ticks(lo: float, hi: float, target: int) -> list[float]:
    step = _nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9) * step
    count = math.floor((hi - first) / step + 1e-9) + 1
    return [round(first + i * step, 10) for i in range(count)]


def _fmt(value: float) -> str:
    """Short number text for axis labels and the caption."""
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2g}"


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Escape for XML and drop characters XML 1.0 forbids (e.g. ANSI colour escapes' ESC)."""
    return escape(_XML_INVALID.sub("", text))


def _clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _text(x: float, y: float, body: str, size: int = 11, **attrs: str) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{_xml_text(body)}</text>'


def _segments(probes: Sequence[PlotPoint]) -> list[list[tuple[float, float]]]:
    """Latency polylines; a failed probe or a missing latency breaks the line."""
    segments: list[list[tuple[float, float]]] = [[]]
    for t, ok, latency in probes:
        if ok and latency is not None and math.isfinite(latency):
            segments[-1].append((t, latency))
        elif segments[-1]:
            segments.append([])
    return [s for s in segments if s]


def _status_runs(probes: Sequence[PlotPoint]) -> list[tuple[float, float, bool]]:
    """Merge consecutive probes of one status into (start, end, ok) spans, each probe
    covering the time until the next one (the last one a typical interval)."""
    if not probes:
        return []
    times = [p[0] for p in probes]
    gaps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    typical = gaps[len(gaps) // 2] if gaps else 0.0
    runs: list[tuple[float, float, bool]] = []
    for index, (t, ok, _) in enumerate(probes):
        end = times[index + 1] if index + 1 < len(probes) else t + typical
        if runs and runs[-1][2] == ok:
            runs[-1] = (runs[-1][0], end, ok)
        else:
            runs.append((t, end, ok))
    return runs


@dataclass(frozen=True)
class _Scale:
    """Where seconds and milliseconds land on the drawing."""

    x_lo: float
    x_hi: float
    y_hi: float

    def x(self, t: float) -> float:
        return _LEFT + (t - self.x_lo) / (self.x_hi - self.x_lo) * (_RIGHT - _LEFT)

    def y(self, ms: float) -> float:
        return _PLOT_BOTTOM - ms / self.y_hi * (_PLOT_BOTTOM - _PLOT_TOP)


def _scale(probes: Sequence[PlotPoint], windows: Sequence[ShadedSpan]) -> _Scale:
    """Axes that hold every probe and window, rounded up to a whole tick."""
    xs = [p[0] for p in probes] + [v for w in windows for v in w[:2]]
    x_lo = min([0.0, *xs])
    x_hi = max([x_lo + 1.0, *xs])
    x_step = _nice_step(x_hi - x_lo, 8)
    y_hi = max(_latencies(probes), default=0.0)
    y_hi = 100.0 if y_hi <= 0 else y_hi * 1.08
    y_step = _nice_step(y_hi, 4)
    return _Scale(
        x_lo,
        math.ceil(x_hi / x_step - 1e-9) * x_step,
        math.ceil(y_hi / y_step - 1e-9) * y_step,
    )


def _latencies(probes: Sequence[PlotPoint]) -> list[float]:
    return [lat for _, ok, lat in probes if ok and lat is not None and math.isfinite(lat)]


def render_availability_svg(
    probes: Sequence[tuple[float, bool, float | None]],
    fault_windows: Sequence[tuple[float, float, str]],
    title: str,
) -> str:
    """Render probes ``(seconds since start, ok, latency ms or None)`` and fault windows
    ``(start s, end s, label)`` as an SVG document (900x360, scalable)."""
    ordered = sorted((p for p in probes if math.isfinite(p[0])), key=lambda p: p[0])
    windows = sorted(
        (
            (min(a, b), max(a, b), label)
            for a, b, label in fault_windows
            if math.isfinite(a) and math.isfinite(b)
        ),
        key=lambda w: w[0],
    )
    scale = _scale(ordered, windows)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family={quoteattr(_FONT)} fill="#222">',
        f"<title>{_xml_text(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(_LEFT, _TITLE_Y, _clip(title, 96), 15, font_weight="bold"),
        *_grid_and_axes(scale),
        *_fault_windows(windows, scale),  # under the data
        *_probe_band(ordered, scale),
        *_latency_line(ordered, scale),
        *_legend(),
        _text(_LEFT, HEIGHT - 14, _caption(availability_figures(ordered)), 12, fill="#333"),
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def _grid_and_axes(scale: _Scale) -> list[str]:
    out: list[str] = []
    for ms in _ticks(0.0, scale.y_hi, 4):
        y = scale.y(ms)
        out.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_RIGHT}" y2="{y:.1f}" stroke="{_GRID}"/>')
        out.append(_text(_LEFT - 6, y + 4, _fmt(ms), 10, text_anchor="end", fill=_MUTED))
    for t in _ticks(scale.x_lo, scale.x_hi, 8):
        x = scale.x(t)
        out.append(
            f'<line x1="{x:.1f}" y1="{_PLOT_TOP}" x2="{x:.1f}" y2="{_PLOT_BOTTOM}" '
            f'stroke="{_GRID}"/>'
        )
        out.append(_text(x, _PLOT_BOTTOM + 15, _fmt(t), 10, text_anchor="middle", fill=_MUTED))
    mid = (_PLOT_TOP + _PLOT_BOTTOM) / 2
    return [
        *out,
        f'<line x1="{_LEFT}" y1="{_PLOT_BOTTOM}" x2="{_RIGHT}" y2="{_PLOT_BOTTOM}" '
        f'stroke="{_AXIS}"/>',
        f'<line x1="{_LEFT}" y1="{_PLOT_TOP}" x2="{_LEFT}" y2="{_PLOT_BOTTOM}" stroke="{_AXIS}"/>',
        _text(
            (_LEFT + _RIGHT) / 2,
            _PLOT_BOTTOM + 30,
            "seconds since start",
            11,
            text_anchor="middle",
            fill=_AXIS,
        ),
        _text(
            16,
            mid,
            "latency (ms)",
            11,
            text_anchor="middle",
            fill=_AXIS,
            transform=f"rotate(-90 16 {mid:.1f})",
        ),
        _text(
            _LEFT - 6,
            (_BAND_TOP + _BAND_BOTTOM) / 2 + 4,
            "probes",
            10,
            text_anchor="end",
            fill=_AXIS,
        ),
    ]


def _fault_windows(windows: Sequence[ShadedSpan], scale: _Scale) -> list[str]:
    """Shaded fault windows, their labels staggered in rows so neighbours do not collide."""
    out: list[str] = []
    label_rows: list[float] = []  # right edge of the last label in each row
    for start, end, label in windows:
        x0, x1 = scale.x(start), scale.x(end)
        out.append(
            f'<rect x="{x0:.1f}" y="{_BAND_TOP - 4}" width="{max(x1 - x0, 2.0):.1f}" '
            f'height="{_PLOT_BOTTOM - _BAND_TOP + 4}" fill="{_FAULT}" fill-opacity="0.18" '
            f'stroke="{_FAULT}" stroke-opacity="0.6" stroke-dasharray="3 3"/>'
        )
        room = int((_RIGHT - x0 - 4) / _CHAR_W)  # characters that fit right of the window start
        text = _clip(label, max(min(40, room), 14))
        width = len(text) * _CHAR_W
        tx = min(x0 + 4, _RIGHT - width)
        row = next((i for i, edge in enumerate(label_rows) if tx > edge + 8), None)
        if row is None:
            row = len(label_rows) if len(label_rows) < 3 else len(label_rows) - 1
            label_rows.extend([0.0] * (row + 1 - len(label_rows)))
        label_rows[row] = tx + width
        out.append(
            _text(tx, _PLOT_TOP + 13 + 14 * row, text, 11, fill=_FAULT_TEXT, font_weight="bold")
        )
    return out


def _probe_band(probes: Sequence[PlotPoint], scale: _Scale) -> list[str]:
    """One tick per run of probes of one status: green ok, red failed."""
    out = [
        f'<rect x="{_LEFT}" y="{_BAND_TOP}" width="{_RIGHT - _LEFT}" '
        f'height="{_BAND_BOTTOM - _BAND_TOP}" fill="#f4f4f4"/>'
    ]
    for ok in (True, False):  # failures drawn last so a lone one stays visible
        for start, end, run_ok in _status_runs(probes):
            if run_ok is ok:
                x0, x1 = scale.x(start), min(scale.x(end), _RIGHT)
                width = max(x1 - x0, 2.0 if not ok else 1.0)
                out.append(
                    f'<rect x="{x0:.1f}" y="{_BAND_TOP}" width="{width:.1f}" '
                    f'height="{_BAND_BOTTOM - _BAND_TOP}" fill="{_OK if ok else _FAIL}"/>'
                )
    if not probes:
        out.append(
            _text(
                (_LEFT + _RIGHT) / 2,
                _BAND_BOTTOM - 5,
                "no probes recorded",
                10,
                text_anchor="middle",
                fill=_MUTED,
            )
        )
    return out


def _latency_line(probes: Sequence[PlotPoint], scale: _Scale) -> list[str]:
    out: list[str] = []
    for segment in _segments(probes):
        if len(segment) == 1:
            t, ms = segment[0]
            out.append(
                f'<circle cx="{scale.x(t):.1f}" cy="{scale.y(ms):.1f}" r="2" fill="{_LINE}"/>'
            )
        else:
            points = " ".join(f"{scale.x(t):.1f},{scale.y(ms):.1f}" for t, ms in segment)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{_LINE}" '
                f'stroke-width="1.6" stroke-linejoin="round"/>'
            )
    if not _latencies(probes):
        mid = (_PLOT_TOP + _PLOT_BOTTOM) / 2
        out.append(
            _text(
                (_LEFT + _RIGHT) / 2, mid, "no latency data", 12, text_anchor="middle", fill=_MUTED
            )
        )
    return out


def _legend() -> list[str]:
    """Legend in its own row under the title, right-aligned."""
    items = [
        ("rect", _OK, "probe ok"),
        ("rect", _FAIL, "probe failed"),
        ("line", _LINE, "latency"),
        ("fault", _FAULT, "fault window"),
    ]
    widths = [18 + len(text) * _CHAR_W + 14 for _, _, text in items]
    x, y = _RIGHT - sum(widths) + 14, _LEGEND_Y
    parts: list[str] = []
    for (kind, color, text), width in zip(items, widths, strict=True):
        if kind == "line":
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 14:.1f}" y2="{y - 4}" '
                f'stroke="{color}" stroke-width="2"/>'
            )
        elif kind == "fault":
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10}" width="14" height="12" fill="{color}" '
                f'fill-opacity="0.25" stroke="{color}" stroke-dasharray="3 3"/>'
            )
        else:
            parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="14" height="12" fill="{color}"/>')
        parts.append(_text(x + 18, y, text, 11, fill="#333"))
        x += width
    return parts


def _caption(f: AvailabilityFigures) -> str:
    if f.probes == 0 or f.success_ratio is None:
        return "no probes recorded"
    text = (
        f"{f.probes} probes · {f.failures} failed · success {f.success_ratio:.1%} · "
        f"longest gap {f.longest_gap_s:.1f} s"
    )
    if f.longest_gap_start is not None and f.failures:
        text += f" (from t={_fmt(f.longest_gap_start)} s)"
    return text
