"""The one entry point for figures: `compute_report(month, scope)` loads the scope's rows once
and returns the month, its 12-month trend and the team / service breakdowns. The API, the
dashboard, the PDF and the command all call it, so they cannot disagree."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from django.utils import timezone

from . import dora, tiers
from .loading import load_dataset
from .periods import Month, report_timezone, trailing_months
from .quality import quality_from_row
from .scopes import ORGANISATION, Scope

KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")


def _num(value, digits: int | None = None):
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    return round(value, digits) if digits is not None else value


@dataclass
class Report:
    month: Month
    months: list[Month]
    scope: Scope
    tz_name: str
    bench: tiers.Benchmark
    as_of: datetime
    prep: dora.Prepared | None  # the row-level frames; None when the figures came from snapshots
    trend: pd.DataFrame  # index: month label
    teams: pd.DataFrame | None = None  # index: team id (the month)
    services: pd.DataFrame | None = None  # index: service id (the month)
    team_names: pd.DataFrame | None = None  # id, slug, name
    service_names: pd.DataFrame | None = None  # id, slug, name
    extra: dict = field(default_factory=dict)

    def row(self, month: Month | None = None) -> pd.Series:
        return self.trend.loc[(month or self.month).label]

    def summary(self, month: Month | None = None) -> dict:
        month = month or self.month
        return summary_dict(self.row(month), month=month, scope=self.scope, tz_name=self.tz_name, bench=self.bench,
                            as_of=self.as_of)

    def previous_summary(self) -> dict | None:
        prev = self.month.previous()
        return self.summary(prev) if prev.label in self.trend.index else None

    def quality(self) -> dict[str, int]:
        return quality_from_row(self.row())


def summary_dict(row: pd.Series, *, month: Month, scope: Scope, tz_name: str, bench: tiers.Benchmark,
                 as_of: datetime) -> dict:
    """The body of GET /api/v1/reports/dora/ (API.md) for one row of `dora.aggregate`."""
    tz = report_timezone(tz_name)
    return {
        "period": month.label,
        "timezone": tz_name,
        "scope": scope.as_dict(),
        "period_start": month.start(tz).astimezone(UTC).isoformat(),
        "period_end": month.end(tz).astimezone(UTC).isoformat(),
        "benchmark_year": bench.year,
        "data_as_of": as_of.astimezone(UTC).isoformat(),
        "deployment_frequency": {
            "count": int(row["deployments"]),
            "per_day": _num(row["per_day"], 4),
            "median_deploy_days_per_week": _num(row["median_deploy_days_per_week"]),
            "deployment_days": int(row["deployment_days"]),
            "tier": row["deployment_frequency_tier"],
        },
        "lead_time": {
            "median_seconds": _num(row["lead_median"], 3),
            "p90_seconds": _num(row["lead_p90"], 3),
            "count": int(row["lead_count"]),
            "negative_excluded": int(row["lead_negative"]),
            "tier": row["lead_time_tier"],
        },
        "change_failure_rate": {
            "failed": int(row["failed"]),
            "total": int(row["total"]),
            "rate": _num(row["change_failure_rate"], 6),
            "tier": row["change_failure_tier"],
        },
        "recovery_time": {
            "median_seconds": _num(row["recovery_median"], 3),
            "count": int(row["recovery_count"]),
            "unrestored": int(row["unrestored"]),
            "tier": row["recovery_tier"],
        },
        "rework_rate": {
            "rework": int(row["rework"]),
            "total": int(row["total"]),
            "rate": _num(row["rework_rate"], 6),
        },
    }


def compute_report(month: Month, scope: Scope = ORGANISATION, *, trend_months: int = 12, breakdown: bool = True,
                   as_of: datetime | None = None, benchmark_year: int | None = None,
                   tz_name: str | None = None) -> Report:
    from django.conf import settings

    tz_name = tz_name or settings.REPORT_TIMEZONE
    tz = report_timezone(tz_name)
    bench = tiers.benchmark(benchmark_year)
    as_of = as_of or timezone.now()
    months = trailing_months(month, trend_months)
    ds = load_dataset(service_ids=scope.service_ids(), as_of=as_of)
    prep = dora.prepare(ds, months, tz)
    trend = dora.aggregate(prep, "organisation", bench=bench).xs(0, level="group")
    report = Report(month=month, months=months, scope=scope, tz_name=tz_name, bench=bench, as_of=as_of, prep=prep,
                    trend=trend, team_names=prep.teams, service_names=prep.services)
    if breakdown and scope.level != "service":
        report.services = _in_month(dora.aggregate(prep, "service", bench=bench), month)
        if scope.level == "organisation":
            report.teams = _in_month(dora.aggregate(prep, "team", bench=bench), month)
    return report


def _in_month(table: pd.DataFrame, month: Month) -> pd.DataFrame:
    """The month's rows, indexed by group (empty, not an error, for a team without services)."""
    return table[table.index.get_level_values("month") == month.label].droplevel("month")
