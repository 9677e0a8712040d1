"""The 12-month charts, drawn on the server as plain SVG: the dashboard inlines them and the PDF
embeds the very same markup (as images).

Why not a chart library: drawing the five charts with matplotlib cost about a second per scope
(most of a team or service page, issue #16); writing the markup directly costs milliseconds and
the same values still give the same bytes.

Layout: the legend (lead time: median and p90) has its own band above the plot area, so no line
can run through it; the y axis always starts at 0 and ends on a round tick above the largest
value; a month without a value leaves a gap in a line (no zero is invented)."""

from __future__ import annotations

import math

import pandas as pd
from django.utils.html import escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, BOTTOM = 52, 14, 34
# The top band holds the legend (when the chart has one) and the y-axis unit.
TOP = 30
PLOT_TOP, PLOT_BOTTOM = TOP, HEIGHT - BOTTOM

INK = "#1f2937"
MUTED = "#6b7280"
ACCENT = "#2563eb"
SECOND = "#93c5fd"
GRID = "#eef0f3"
AXIS = "#d1d5db"

CHARTS = {
    "deployment_frequency": "Succeeded production deployments per month",
    "lead_time": "Lead time for changes: median and p90 (hours)",
    "change_failure_rate": "Change failure rate (%)",
    "recovery_time": "Failed deployment recovery time: median (hours)",
    "rework_rate": "Deployment rework rate (%)",
}


def _month_ticks(labels: list[str]) -> list[tuple[str, str]]:
    """(month, year or "") per label: the year under January and under the first month."""
    out = []
    for label in labels:
        ts = pd.Timestamp(label + "-01")
        out.append((ts.strftime("%b"), ts.strftime("%Y") if ts.month == 1 or label == labels[0] else ""))
    return out


def _nice_max(value: float, ticks: int = 4) -> tuple[float, float]:
    """(axis top, tick step): a round step (1, 2, 2.5 or 5 × 10^n) with the top at or above value."""
    if not value or value <= 0 or math.isnan(value):
        return 1.0, 0.25
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step * ticks >= value:
            return step * ticks, step
    return 10 * power * ticks, 10 * power


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def _values(series: pd.Series, scale: float = 1.0) -> list[float | None]:
    out: list[float | None] = []
    for value in series.tolist():
        value = None if value is None else float(value)
        out.append(None if value is None or math.isnan(value) else value * scale)
    return out


class _Canvas:
    def __init__(self, count: int, top_value: float) -> None:
        self.count = count
        self.top, self.step = _nice_max(top_value)
        self.slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
        self.parts: list[str] = []

    def x(self, index: int) -> float:
        return LEFT + self.slot * (index + 0.5)

    def y(self, value: float) -> float:
        return PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * (value / self.top)

    def axes(self, labels: list[str], unit: str) -> None:
        value = 0.0
        while value <= self.top + 1e-9:
            y = self.y(value)
            self.parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                              f'stroke="{GRID}" stroke-width="1"/>')
            self.parts.append(f'<text x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end" fill="{MUTED}">'
                              f'{_fmt(value)}</text>')
            value += self.step
        self.parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}" '
                          f'stroke="{AXIS}"/>')
        self.parts.append(f'<text class="unit" x="{LEFT - 6}" y="{PLOT_TOP - 14}" text-anchor="end" '
                          f'fill="{MUTED}">{escape(unit)}</text>')
        for index, (month, year) in enumerate(_month_ticks(labels)):
            x = self.x(index)
            self.parts.append(f'<text x="{x:.1f}" y="{PLOT_BOTTOM + 14}" text-anchor="middle" fill="{MUTED}">'
                              f'{month}</text>')
            if year:
                self.parts.append(f'<text x="{x:.1f}" y="{PLOT_BOTTOM + 27}" text-anchor="middle" '
                                  f'fill="{MUTED}">{year}</text>')

    def bars(self, values: list[float | None], colour: str = ACCENT) -> None:
        width = self.slot * 0.62
        for index, value in enumerate(values):
            if not value:
                continue
            y = self.y(value)
            self.parts.append(f'<rect class="bar" x="{self.x(index) - width / 2:.1f}" y="{y:.1f}" '
                              f'width="{width:.1f}" height="{PLOT_BOTTOM - y:.1f}" fill="{colour}"/>')

    def line(self, values: list[float | None], *, name: str, colour: str, dash: str = "") -> None:
        """A polyline per run of known values (a missing month is a gap), with a dot per value."""
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append((self.x(index), self.y(value)))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                self.parts.append(f'<polyline class="series-{name}" points="{points}" fill="none" '
                                  f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
            for x, y in run:
                self.parts.append(f'<circle class="point-{name}" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')

    def rule(self, value: float, label: str) -> None:
        if value > self.top:
            return
        y = self.y(value)
        self.parts.append(f'<line class="bound" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                          f'stroke="{MUTED}" stroke-width="0.8" stroke-dasharray="2 3"/>')
        self.parts.append(f'<text x="{WIDTH - RIGHT}" y="{y - 3:.1f}" text-anchor="end" fill="{MUTED}" '
                          f'font-size="9">{escape(label)}</text>')

    def legend(self, items: list[tuple[str, str, str]]) -> None:
        """Swatches in the band above the plot (never over the data)."""
        x = LEFT + 4
        y = 12
        self.parts.append('<g class="legend">')
        for label, colour, dash in items:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" '
                              f'stroke-width="2"{dash_attr}/>')
            self.parts.append(f'<text x="{x + 23}" y="{y + 3}" fill="{INK}">{escape(label)}</text>')
            x += 30 + 7 * len(label)
        self.parts.append("</g>")

    def svg(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
                f'height="{HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="10" aria-hidden="true">'
                + "".join(self.parts) + "</svg>")


def trend_chart(metric: str, trend: pd.DataFrame) -> str:
    """SVG markup for one metric over the months of `trend` (index: month labels)."""
    labels = [str(label) for label in trend.index]
    if metric == "deployment_frequency":
        values = _values(trend["deployments"])
        canvas = _Canvas(len(labels), max([v for v in values if v is not None], default=0))
        canvas.axes(labels, "deployments")
        canvas.bars(values)
    elif metric == "lead_time":
        median, p90 = _values(trend["lead_median"], 1 / 3600), _values(trend["lead_p90"], 1 / 3600)
        canvas = _Canvas(len(labels), max([v for v in median + p90 if v is not None], default=0))
        canvas.axes(labels, "hours")
        canvas.legend([("median", ACCENT, ""), ("p90", SECOND, "5 3")])
        canvas.line(p90, name="p90", colour=SECOND, dash="5 3")
        canvas.line(median, name="median", colour=ACCENT)
    elif metric == "change_failure_rate":
        values = [0.0 if v is None else v for v in _values(trend["change_failure_rate"], 100)]
        canvas = _Canvas(len(labels), max(values + [15.0]))
        canvas.axes(labels, "%")
        canvas.bars(values)
        for bound, tier in ((5, "elite"), (10, "high"), (15, "medium")):
            canvas.rule(bound, f"{tier} ≤ {bound} %")
    elif metric == "recovery_time":
        values = _values(trend["recovery_median"], 1 / 3600)
        canvas = _Canvas(len(labels), max([v for v in values if v is not None], default=0))
        canvas.axes(labels, "hours")
        canvas.line(values, name="median", colour=ACCENT)
    elif metric == "rework_rate":
        values = _values(trend["rework_rate"], 100)
        canvas = _Canvas(len(labels), max([v for v in values if v is not None], default=0))
        canvas.axes(labels, "%")
        canvas.line(values, name="rate", colour=ACCENT)
    else:
        raise ValueError(f"no chart for {metric}")
    return canvas.svg()


# The trend columns the charts draw: the same values give the same SVG bytes.
CHART_COLUMNS = ["deployments", "lead_median", "lead_p90", "change_failure_rate", "recovery_median", "rework_rate"]


def all_charts(trend: pd.DataFrame) -> dict[str, str]:
    """Every chart of the trend, cached by a digest of the values they draw (cheap to draw, but
    a page redrawn for every viewer is still work for nothing)."""
    import hashlib

    from django.core.cache import cache

    digest = hashlib.sha256(pd.util.hash_pandas_object(trend[CHART_COLUMNS], index=True).to_numpy().tobytes())
    key = f"reports:charts:v2:{digest.hexdigest()}"
    charts = cache.get(key)
    if charts is None:
        charts = {metric: trend_chart(metric, trend) for metric in CHARTS}
        cache.set(key, charts, 24 * 3600)
    return charts
