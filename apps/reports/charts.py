"""The 12-month charts, drawn on the server as SVG with matplotlib: the dashboard inlines them
and the PDF embeds the very same markup.

matplotlib wants a writable config/cache directory; web and worker processes often run with a
read-only home, so MPLCONFIGDIR defaults to one under the temporary directory. The Agg backend
never needs a display."""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / "rp-matplotlib"))
Path(os.environ["MPLCONFIGDIR"]).mkdir(parents=True, exist_ok=True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# pyplot's global state is not thread-safe; Figure objects are, but font caches are shared.
_LOCK = threading.Lock()

INK = "#1f2937"
MUTED = "#6b7280"
ACCENT = "#2563eb"
SECOND = "#93c5fd"
BAD = "#dc2626"

matplotlib.rcParams.update({
    "svg.hashsalt": "release-portal",  # stable ids: the same data gives the same SVG bytes
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": "#d1d5db",
    "axes.labelcolor": MUTED,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

CHARTS = {
    "deployment_frequency": "Succeeded production deployments per month",
    "lead_time": "Lead time for changes: median and p90 (hours)",
    "change_failure_rate": "Change failure rate (%)",
    "recovery_time": "Failed deployment recovery time: median (hours)",
    "rework_rate": "Deployment rework rate (%)",
}


def _month_ticks(labels: list[str]) -> list[str]:
    out = []
    for label in labels:
        ts = pd.Timestamp(label + "-01")
        out.append(ts.strftime("%b\n%Y") if ts.month == 1 or label == labels[0] else ts.strftime("%b"))
    return out


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "Release Portal"})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def trend_chart(metric: str, trend: pd.DataFrame, *, width: float = 6.4, height: float = 2.4) -> str:
    """SVG markup (no XML prolog) for one metric over the months of `trend` (index: labels)."""
    labels = list(trend.index)
    x = list(range(len(labels)))
    with _LOCK:
        fig = Figure(figsize=(width, height))
        ax = fig.add_subplot()
        ax.grid(axis="y", color="#eef0f3", linewidth=0.8)
        ax.set_axisbelow(True)
        if metric == "deployment_frequency":
            ax.bar(x, trend["deployments"], color=ACCENT, width=0.65)
            ax.set_ylabel("deployments")
        elif metric == "lead_time":
            ax.plot(x, trend["lead_median"] / 3600, color=ACCENT, marker="o", markersize=3.5, label="median")
            ax.plot(x, trend["lead_p90"] / 3600, color=SECOND, linestyle="--", marker="o", markersize=3, label="p90")
            ax.legend(frameon=False, loc="upper left", fontsize=8)
            ax.set_ylabel("hours")
        elif metric == "change_failure_rate":
            ax.bar(x, trend["change_failure_rate"].fillna(0) * 100, color=ACCENT, width=0.65)
            for bound in (5, 10, 15):
                ax.axhline(bound, color=MUTED, linewidth=0.6, linestyle=":")
            ax.set_ylabel("%")
        elif metric == "recovery_time":
            ax.plot(x, trend["recovery_median"] / 3600, color=ACCENT, marker="o", markersize=3.5)
            ax.set_ylabel("hours")
        elif metric == "rework_rate":
            ax.plot(x, trend["rework_rate"] * 100, color=ACCENT, marker="o", markersize=3.5)
            ax.set_ylabel("%")
        else:
            raise ValueError(f"no chart for {metric}")
        ax.set_xticks(x, _month_ticks(labels))
        ax.set_ylim(bottom=0)
        ax.margins(x=0.03)
        fig.tight_layout()
        return _svg(fig)


# The trend columns the charts draw: the same values give the same SVG bytes.
CHART_COLUMNS = ["deployments", "lead_median", "lead_p90", "change_failure_rate", "recovery_median", "rework_rate"]


def all_charts(trend: pd.DataFrame) -> dict[str, str]:
    """Every chart of the trend. Drawing five charts costs ~0.2 s, most of a dashboard view
    served from snapshots, so they are cached by a digest of the values they draw."""
    import hashlib

    from django.core.cache import cache

    digest = hashlib.sha256(pd.util.hash_pandas_object(trend[CHART_COLUMNS], index=True).to_numpy().tobytes())
    key = f"reports:charts:{digest.hexdigest()}"
    charts = cache.get(key)
    if charts is None:
        charts = {metric: trend_chart(metric, trend) for metric in CHARTS}
        cache.set(key, charts, 24 * 3600)
    return charts
