"""Metric charts of a deployment, drawn on the server as inline SVG (no JavaScript, no chart
library): per metric the current / canary / baseline series, the checks' threshold lines, the
deployment marker and the breach window highlighted.

Accessibility: every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>`
(what is drawn and the breach in words); the page also shows the figures as tables.
Size: a series is reduced to at most MAX_POINTS points by keeping each bucket's minimum and
maximum (a spike survives the reduction), so the markup stays small whatever the sample count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 30
MAX_POINTS = 240

COLOURS = {"current": "#2563eb", "canary": "#d97706", "baseline": "#6b7280"}
DASHES = {"current": "", "canary": "", "baseline": "5 3"}
THRESHOLD = "#dc2626"
MARKER = "#111827"
GRID = "#eef0f3"
MUTED = "#6b7280"


@dataclass
class Threshold:
    value: float
    label: str


@dataclass
class Chart:
    """What one chart draws. Times are unix seconds."""

    metric: str
    series: dict[str, Sequence[tuple[float, float]]]
    thresholds: list[Threshold] = field(default_factory=list)
    marker: float | None = None  # the deployment's start
    breach: tuple[float, float] | None = None  # the breach window (start, end)
    unit: str = ""


def reduce_points(points: Sequence[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most `limit` points: each bucket of consecutive samples keeps its min and its max, in
    time order, so a spike above a threshold is still drawn."""
    points = list(points)
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / (limit // 2))
    out: list[tuple[float, float]] = []
    for start in range(0, len(points), size):
        bucket = points[start:start + size]
        low = min(bucket, key=lambda p: p[1])
        high = max(bucket, key=lambda p: p[1])
        out.extend(sorted({low, high}))
    return out


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10 ** exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)


def _fmt(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M")


def _span(chart: Chart) -> tuple[float, float, float]:
    times = [t for pts in chart.series.values() for t, _ in pts]
    values = [v for pts in chart.series.values() for _, v in pts]
    values += [t.value for t in chart.thresholds]
    if chart.marker is not None:
        times.append(chart.marker)
    if chart.breach:
        times.extend(chart.breach)
    if not times:
        return 0.0, 1.0, 1.0
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t1 = t0 + 60
    return t0, t1, _nice_max(max(values, default=1.0) * 1.1)


def describe(chart: Chart) -> str:
    """The chart in words (its <desc>): the series, the thresholds, the marker, the breach."""
    parts = []
    for cohort, pts in chart.series.items():
        if pts:
            values = [v for _, v in pts]
            parts.append(f"{cohort}: {len(pts)} samples from {_fmt(min(values))} to {_fmt(max(values))}{chart.unit}")
    for t in chart.thresholds:
        parts.append(f"threshold {t.label}")
    if chart.marker is not None:
        parts.append(f"deployed at {_clock(chart.marker)} UTC")
    if chart.breach:
        parts.append(f"breach from {_clock(chart.breach[0])} to {_clock(chart.breach[1])} UTC")
    return "; ".join(parts) or "no samples"


def render(chart: Chart, *, chart_id: str) -> SafeString:
    """The SVG markup of one chart. `chart_id` makes the title/desc ids unique on the page."""
    t0, t1, vmax = _span(chart)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(ts: float) -> float:
        return round(LEFT + (ts - t0) / (t1 - t0) * plot_w, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h - min(max(value, 0.0), vmax) / vmax * plot_h, 1)

    title = f"{chart.metric}{f' ({chart.unit.strip()})' if chart.unit.strip() else ''}"
    out: list[str] = [
        f'<svg class="metric-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(describe(chart))}</desc>',
    ]
    # the breach window under everything else
    if chart.breach:
        bx0, bx1 = x(chart.breach[0]), x(chart.breach[1])
        out.append(f'<rect class="breach" x="{bx0}" y="{TOP}" width="{max(bx1 - bx0, 2)}" height="{plot_h}" '
                   f'fill="{THRESHOLD}" fill-opacity="0.12"><title>breach window</title></rect>')
        out.append(f'<text x="{bx0 + 3}" y="{TOP + 11}" fill="{THRESHOLD}" font-weight="600">breach</text>')
    # grid and y axis
    for i in range(5):
        value = vmax * i / 4
        gy = y(value)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy}" y2="{gy}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{gy + 4}" text-anchor="end" fill="{MUTED}">{_fmt(value)}</text>')
    # x ticks: five clock times (UTC)
    for i in range(5):
        ts = t0 + (t1 - t0) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(f'<text x="{x(ts)}" y="{HEIGHT - 10}" text-anchor="{anchor}" fill="{MUTED}">{_clock(ts)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#d1d5db"/>')
    # thresholds
    for t in chart.thresholds:
        ty = y(t.value)
        out.append(f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty}" y2="{ty}" '
                   f'stroke="{THRESHOLD}" stroke-dasharray="6 4"><title>{escape(t.label)}</title></line>')
        out.append(f'<text x="{WIDTH - RIGHT - 2}" y="{ty - 4}" text-anchor="end" fill="{THRESHOLD}">'
                   f'{escape(t.label)}</text>')
    # series
    for cohort, pts in chart.series.items():
        reduced = reduce_points(sorted(pts))
        if not reduced:
            continue
        path = " ".join(f"{x(ts)},{y(v)}" for ts, v in reduced)
        dash = f' stroke-dasharray="{DASHES.get(cohort, "")}"' if DASHES.get(cohort) else ""
        colour = COLOURS.get(cohort, "#111827")
        out.append(f'<polyline class="series series-{escape(cohort)}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.6"{dash} points="{path}"><title>{escape(cohort)}</title></polyline>')
    # the deployment marker
    if chart.marker is not None:
        mx = x(chart.marker)
        out.append(f'<line class="marker" x1="{mx}" x2="{mx}" y1="{TOP}" y2="{TOP + plot_h}" stroke="{MARKER}" '
                   f'stroke-width="1.2"><title>deployment at {_clock(chart.marker)} UTC</title></line>')
        out.append(f'<text x="{mx + 3}" y="{TOP + plot_h - 4}" fill="{MARKER}">deploy</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped


def legend(cohorts: Iterable[str]) -> list[dict[str, str]]:
    return [{"cohort": c, "colour": COLOURS.get(c, "#111827"), "dashed": bool(DASHES.get(c))} for c in cohorts]
