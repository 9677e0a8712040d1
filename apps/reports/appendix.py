"""The data appendix: the rows behind every figure of a report, as CSV tables. The PDF carries
them as attachments and the same bytes are offered for download beside it; an auditor can
recompute each headline figure from them (tests/reports/test_appendix.py does exactly that)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import dora
from .loading import commit_shas
from .metrics import Report
from .periods import weeks_of_month
from .quality import QUALITY_LABELS

ISO = "%Y-%m-%dT%H:%M:%S.%f%z"


def _ts(series: pd.Series) -> np.ndarray:
    """ISO 8601 UTC with microseconds ("2026-10-05T10:00:00.000000Z"), "" for none; numpy's
    formatter is many times faster than strftime over a few hundred thousand rows."""
    values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    text = np.char.add(np.datetime_as_string(values, unit="us"), "Z")
    return np.where(np.isnat(values), "", text)


def _local_dates(series: pd.Series, tz) -> np.ndarray:
    return np.datetime_as_string(series.dt.tz_convert(tz).dt.tz_localize(None).to_numpy().astype("datetime64[D]"),
                                 unit="D")


def _flatten(summary: dict) -> pd.DataFrame:
    rows = []
    for key in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "rework_rate"):
        for field, value in summary[key].items():
            rows.append({"metric": key, "field": field, "value": "" if value is None else value})
    return pd.DataFrame(rows)


def appendix_tables(report: Report, governance: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    prep, month = report.prep, report.month
    svc = prep.services.set_index("id")
    teams = prep.teams.set_index("id")
    tables: dict[str, pd.DataFrame] = {}
    summary = report.summary()
    tables["summary.csv"] = _flatten(summary)
    params = {"period": month.label, "timezone": report.tz_name, "scope": report.scope.key,
              "benchmark_year": report.bench.year, "data_as_of": summary["data_as_of"]}
    tables["parameters.csv"] = pd.DataFrame({"parameter": list(params), "value": list(params.values())})

    deps = prep.deployments
    rows = deps.loc[(deps["month"] == month.label) | (deps["failure_month"] == month.label)]
    tables["deployments.csv"] = pd.DataFrame({
        "deployment_id": rows["id"],
        "service": rows["service_id"].map(svc["slug"]),
        "team": rows["team_id"].map(teams["slug"]),
        "status": rows["status"],
        "kind": rows["kind"],
        "finished_at": _ts(rows["finished_at"]),
        "finished_local_date": _local_dates(rows["finished_at"], prep.tz),
        "month": rows["month"].astype(str).replace("nan", ""),
        "failed": rows["is_failed"],
        "failure_reason": rows["failure_reason"],
        "incident_ids": rows["incident_ids"],
        "failure_at": _ts(rows["failure_at"]),
        "failure_month": rows["failure_month"].astype(str).replace("nan", ""),
        "restored_at": _ts(rows["restored_at"]),
        "restored_by": rows["restored_by"],
        "recovery_seconds": rows["recovery_seconds"],
        "unrestored": rows["unrestored"],
        "rework": rows["is_rework"],
        "rework_reason": rows["rework_reason"],
        "unauthorized": rows["is_unauthorized"],
    })
    weekly = dora.weekly_table(prep, "organisation", 0)
    tables["deployment_weeks.csv"] = weekly.loc[weekly["month"] == month.label].reset_index(drop=True)
    # The deployment days of those weeks, including the days just outside the month.
    mondays = {d.isoformat() for d in weeks_of_month(month)}
    dc = prep.day_counts.drop_duplicates(["local_date"])
    dc = dc.loc[pd.Series(dc["monday"].astype("datetime64[s]").dt.strftime("%Y-%m-%d")).isin(mondays).to_numpy()]
    tables["deployment_days.csv"] = pd.DataFrame({
        "local_date": pd.Series(dc["local_date"].astype("datetime64[s]")).dt.strftime("%Y-%m-%d").to_numpy(),
        "week_start": pd.Series(dc["monday"].astype("datetime64[s]")).dt.strftime("%Y-%m-%d").to_numpy(),
        "in_month": dc["month"].notna().to_numpy() & (dc["month"].astype(str) == month.label).to_numpy(),
    }).sort_values("local_date")

    leads = prep.leads.loc[prep.leads["month"] == month.label]
    shas = commit_shas(start=month.start(prep.tz), end=month.end(prep.tz), service_ids=report.scope.service_ids(),
                       as_of=report.as_of).drop_duplicates(["deployment_id", "sha"])
    leads = leads.merge(shas, on=["deployment_id", "sha"], how="left")
    tables["lead_times.csv"] = pd.DataFrame({
        "service": leads["service_id"].map(svc["slug"]),
        "sha": leads["sha_text"],
        "authored_at": _ts(leads["authored_at"]),
        "deployment_id": leads["deployment_id"],
        "delivered_at": _ts(leads["delivered_at"]),
        "lead_seconds": leads["lead_seconds"],
        "included": ~leads["negative"],
    }).sort_values(["delivered_at", "service", "sha"])

    links = prep.links
    start, end = pd.Timestamp(month.start(prep.tz)), pd.Timestamp(month.end(prep.tz))
    linked_ids = set(rows.loc[rows["incidents"] > 0, "id"])
    inc = links.loc[((links["started_at"] >= start) & (links["started_at"] < end))
                    | links["deployment_id"].isin(linked_ids)]
    tables["incidents.csv"] = pd.DataFrame({
        "incident_id": inc["incident_id"],
        "service": inc["service_id"].map(svc["slug"]),
        "severity": inc["severity"],
        "started_at": _ts(inc["started_at"]),
        "resolved_at": _ts(inc["resolved_at"]),
        "recovery_seconds": (inc["resolved_at"] - inc["started_at"]).dt.total_seconds(),
        "deployment_id": inc["deployment_id"].astype("Int64"),
        "link": inc["link"],
    }).sort_values("started_at")

    tables["trend.csv"] = report.trend.reset_index().rename(columns={"index": "month"})
    if report.teams is not None:
        tables["teams.csv"] = _breakdown(report.teams, teams)
    if report.services is not None:
        tables["services.csv"] = _breakdown(report.services, svc)
    quality = report.quality()
    tables["data_quality.csv"] = pd.DataFrame({"check": list(quality), "count": list(quality.values()),
                                               "description": [QUALITY_LABELS[k] for k in quality]})
    for name, frame in (governance or {}).items():
        tables[name] = frame
    return tables


def _breakdown(table: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    frame = table.copy()
    frame.insert(0, "slug", frame.index.map(names["slug"]))
    frame.insert(1, "name", frame.index.map(names["name"]))
    return frame.reset_index(drop=True)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


def appendix_csvs(tables: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    return {name: to_csv_bytes(frame) for name, frame in tables.items()}
