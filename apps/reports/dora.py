"""The DORA computations of METRICS.md, vectorised over the loaded frames.

`prepare()` derives, once per dataset, one row per production deployment (failure, restoration,
rework), one row per shipped commit (lead time) and one row per incident (its link); these
frames are also the report's data appendix. `aggregate()` then groups them by organisation,
team or service and month. Nothing here loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from . import tiers
from .loading import Dataset
from .periods import Month, weeks_of_month

FINISHED = ("succeeded", "failed", "rolled_back")
FAILED_STATUSES = ("failed", "rolled_back")
REWORK_KINDS = ("hotfix", "rollback")
LEVELS = ("organisation", "team", "service")


@dataclass
class Prepared:
    tz: ZoneInfo
    months: list[Month]
    deployments: pd.DataFrame  # finished production deployments, one row each
    unfinished: pd.DataFrame  # production deployments without a final status or finish time
    leads: pd.DataFrame  # one row per (service, commit), at its first succeeded production deployment
    links: pd.DataFrame  # one row per incident: its linked deployment and how
    day_counts: pd.DataFrame  # (service_id, team_id, monday, local_date) of succeeded deployments
    services: pd.DataFrame
    teams: pd.DataFrame

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.months]


def month_labels(ts: pd.Series, months: list[Month], tz: ZoneInfo) -> pd.Series:
    """The report month (categorical label) of each instant, NaN outside the window."""
    bounds = np.array([pd.Timestamp(m.start(tz)).value for m in months] + [pd.Timestamp(months[-1].end(tz)).value],
                      dtype="int64")
    values = ts.astype("datetime64[ns, UTC]").array.asi8 if len(ts) else np.array([], dtype="int64")
    idx = np.searchsorted(bounds, values, side="right") - 1
    valid = (idx >= 0) & (idx < len(months)) & ts.notna().to_numpy()
    labels = [m.label for m in months]
    codes = np.where(valid, idx, -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels), index=ts.index)


def local_month_labels(local_days: np.ndarray, months: list[Month]) -> pd.Categorical:
    """The window month of each local calendar day (NaN outside the window)."""
    window = np.array([np.datetime64(m.first_day, "M") for m in months])
    ym = local_days.astype("datetime64[M]")
    idx = np.searchsorted(window, ym)
    idx_clipped = np.minimum(idx, len(window) - 1)
    valid = (idx < len(window)) & (window[idx_clipped] == ym)
    return pd.Categorical.from_codes(np.where(valid, idx, -1), categories=[m.label for m in months])


def _local_days(ts: pd.Series, tz: ZoneInfo) -> np.ndarray:
    return ts.dt.tz_convert(tz).dt.tz_localize(None).to_numpy().astype("datetime64[D]")


def prepare(ds: Dataset, months: list[Month], tz: ZoneInfo) -> Prepared:
    team_of = ds.services.set_index("id")["team_id"]
    deps = ds.deployments
    deps = deps.assign(team_id=deps["service_id"].map(team_of))
    finished_mask = deps["status"].isin(FINISHED) & deps["finished_at"].notna()
    unfinished = deps.loc[~finished_mask].copy()
    fin = deps.loc[finished_mask].sort_values(["finished_at", "id"], kind="stable").reset_index(drop=True)
    succ = fin.loc[fin["status"] == "succeeded", ["id", "service_id", "finished_at"]]

    links = _link_incidents(ds.incidents, succ)
    links["team_id"] = links["service_id"].map(team_of)
    fin = _failures_and_restoration(fin, links, succ)
    fin["month"] = month_labels(fin["finished_at"], months, tz)
    fin["failure_month"] = month_labels(fin["failure_at"], months, tz)
    fin["is_rework"] = fin["kind"].isin(REWORK_KINDS) | fin["is_emergency"]
    fin["rework_reason"] = np.where(fin["kind"].isin(REWORK_KINDS), fin["kind"],
                                    np.where(fin["is_emergency"], "emergency_change", ""))

    leads = _lead_times(ds.commits, fin.loc[fin["status"] == "succeeded", ["id", "service_id", "team_id", "finished_at"]])
    leads["month"] = month_labels(leads["delivered_at"], months, tz)

    succeeded = fin.loc[fin["status"] == "succeeded", ["service_id", "team_id", "finished_at"]]
    local = _local_days(succeeded["finished_at"], tz)
    weekday = (local.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    day_counts = pd.DataFrame({
        "service_id": succeeded["service_id"].to_numpy(), "team_id": succeeded["team_id"].to_numpy(),
        "local_date": local, "monday": local - weekday.astype("timedelta64[D]"),
    })
    day_counts["month"] = local_month_labels(local, months)
    return Prepared(tz=tz, months=months, deployments=fin, unfinished=unfinished, leads=leads, links=links,
                    day_counts=day_counts, services=ds.services, teams=ds.teams)


def _link_incidents(incidents: pd.DataFrame, succ: pd.DataFrame) -> pd.DataFrame:
    """METRICS.md: explicit `caused_by_deployment`, else the last succeeded production deployment
    of the same service that finished before the incident started (inferred). An override
    (`link_suppressed`) means no link and no inference."""
    links = incidents[["id", "service_id", "started_at", "resolved_at", "severity", "status"]].rename(
        columns={"id": "incident_id"}).copy()
    suppressed = incidents["link_suppressed"].to_numpy(dtype=bool)
    explicit = incidents["caused_by_deployment_id"].notna().to_numpy() & ~suppressed
    links["deployment_id"] = np.where(explicit, incidents["caused_by_deployment_id"].to_numpy(), np.nan)
    links["link"] = np.where(explicit, "explicit", np.where(suppressed, "suppressed", ""))
    to_infer = links.loc[~explicit & ~suppressed, ["incident_id", "service_id", "started_at"]].sort_values("started_at")
    if "inferred_deployment_id" in incidents:
        # Found by the database (loading.load_window): the window does not hold every success.
        found = incidents["inferred_deployment_id"].to_numpy()
        hit = ~explicit & ~suppressed & ~np.isnan(found)
        links.loc[hit, "deployment_id"] = found[hit]
        links.loc[hit, "link"] = "inferred"
    elif len(to_infer) and len(succ):
        right = succ.rename(columns={"id": "inferred_id", "finished_at": "inferred_finished"}).sort_values(
            "inferred_finished")
        matched = pd.merge_asof(to_infer, right, left_on="started_at", right_on="inferred_finished", by="service_id",
                                direction="backward", allow_exact_matches=False)
        matched = matched.dropna(subset=["inferred_id"]).set_index("incident_id")["inferred_id"]
        hit = links["incident_id"].map(matched)
        links.loc[hit.notna(), "deployment_id"] = hit[hit.notna()]
        links.loc[hit.notna(), "link"] = "inferred"
    links.loc[links["link"] == "", "link"] = "none"
    return links


def _failures_and_restoration(fin: pd.DataFrame, links: pd.DataFrame, succ: pd.DataFrame) -> pd.DataFrame:
    linked = links.loc[links["deployment_id"].notna()].copy()
    linked["deployment_id"] = linked["deployment_id"].astype("int64")
    linked["unresolved"] = linked["resolved_at"].isna()
    per_dep = linked.groupby("deployment_id").agg(
        incidents=("incident_id", "size"), first_incident_at=("started_at", "min"),
        last_resolved_at=("resolved_at", "max"), unresolved=("unresolved", "sum"),
        incident_ids=("incident_id", lambda s: " ".join(str(i) for i in sorted(s))),
    ) if len(linked) else pd.DataFrame(columns=["incidents", "first_incident_at", "last_resolved_at", "unresolved",
                                                "incident_ids"])
    fin = fin.merge(per_dep, left_on="id", right_index=True, how="left")
    fin["incidents"] = fin["incidents"].fillna(0).astype("int64")
    fin["incident_ids"] = fin["incident_ids"].fillna("").astype(str)
    bad_status = fin["status"].isin(FAILED_STATUSES)
    with_incidents = fin["incidents"] > 0
    fin["is_failed"] = bad_status | with_incidents
    fin["failure_reason"] = np.where(bad_status & with_incidents, fin["status"] + "+incident",
                                     np.where(bad_status, fin["status"], np.where(with_incidents, "incident", "")))
    utc = "datetime64[us, UTC]"
    fin["failure_at"] = fin["finished_at"].where(bad_status, fin["first_incident_at"].astype(utc))
    fin.loc[~fin["is_failed"], "failure_at"] = pd.NaT
    # Restoration: the latest resolution of its incidents (all of them resolved), else the next
    # succeeded production deployment of the same service.
    restored = fin["last_resolved_at"].astype(utc).where(with_incidents & (fin["unresolved"].fillna(0) == 0))
    restored_by = pd.Series(np.where(restored.notna(), "incident:" + fin["incident_ids"], ""), index=fin.index)
    need_next = fin["is_failed"] & ~with_incidents
    if need_next.any() and len(succ):
        left = fin.loc[need_next, ["id", "service_id", "finished_at"]].reset_index().sort_values("finished_at")
        right = succ.rename(columns={"id": "next_id", "finished_at": "next_finished"}).sort_values("next_finished")
        nxt = pd.merge_asof(left, right, left_on="finished_at", right_on="next_finished", by="service_id",
                            direction="forward", allow_exact_matches=False).set_index("index")
        restored.loc[nxt.index] = nxt["next_finished"].astype(utc)
        has_next = nxt["next_id"].notna()
        restored_by.loc[nxt.index[has_next]] = "deployment:" + nxt.loc[has_next, "next_id"].astype("int64").astype(str)
    fin["restored_at"] = restored.astype(utc)
    fin["restored_by"] = restored_by
    fin["recovery_seconds"] = (fin["restored_at"] - fin["failure_at"]).dt.total_seconds()
    fin["unrestored"] = fin["is_failed"] & fin["restored_at"].isna()
    return fin.drop(columns=["last_resolved_at", "unresolved"])


def _lead_times(commits: pd.DataFrame, succ: pd.DataFrame) -> pd.DataFrame:
    c = commits.merge(succ.rename(columns={"id": "deployment_id", "finished_at": "delivered_at"}), on="deployment_id")
    # The first succeeded production deployment of the service that contains the commit ships
    # it; the same commit in a later deployment is not counted again.
    c = c.sort_values(["delivered_at", "deployment_id"], kind="stable").drop_duplicates(["service_id", "sha"])
    c["lead_seconds"] = (c["delivered_at"] - c["authored_at"]).dt.total_seconds()
    c["negative"] = c["lead_seconds"] < 0
    return c.reset_index(drop=True)


# --- aggregation ---------------------------------------------------------------------------

def _key(frame: pd.DataFrame, level: str) -> pd.Series:
    if level == "organisation":
        return pd.Series(0, index=frame.index, dtype="int64")
    return frame["team_id" if level == "team" else "service_id"]


def group_ids(prep: Prepared, level: str) -> list[int]:
    if level == "organisation":
        return [0]
    if level == "team":
        return sorted(prep.teams["id"].tolist())
    return sorted(prep.services["id"].tolist())


def _positions(prep: Prepared, frame: pd.DataFrame, level: str, ids: list[int]) -> np.ndarray:
    if level == "organisation":
        return np.zeros(len(frame), dtype="int64")
    column = frame["team_id" if level == "team" else "service_id"].to_numpy()
    return pd.Index(ids).get_indexer(column)


class _Keys:
    """Integer keys group_position * months + month_code, so counts and sums are bincounts and
    medians one groupby over a single int64 column."""

    def __init__(self, prep: Prepared, frame: pd.DataFrame, level: str, ids: list[int], month_col: str) -> None:
        months = len(prep.months)
        self.size = len(ids) * months
        pos = _positions(prep, frame, level, ids)
        codes = frame[month_col].cat.codes.to_numpy().astype("int64") if len(frame) else np.zeros(0, "int64")
        self.valid = (pos >= 0) & (codes >= 0)
        self.keys = (pos * months + codes)[self.valid]

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        keys = self.keys if mask is None else self.keys[mask[self.valid]]
        return np.bincount(keys, minlength=self.size)

    def stats(self, values: pd.Series, mask: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(count, median, p90) of `values` per key, NaN where a key has none."""
        vals = values.to_numpy(dtype="float64")[self.valid]
        keys = self.keys
        if mask is not None:
            vals, keys = vals[mask[self.valid]], keys[mask[self.valid]]
        count = np.bincount(keys, minlength=self.size)
        median = np.full(self.size, np.nan)
        p90 = np.full(self.size, np.nan)
        if len(vals):
            g = pd.Series(vals).groupby(keys)
            med, q = g.median(), g.quantile(0.9)
            median[med.index.to_numpy()] = med.to_numpy()
            p90[q.index.to_numpy()] = q.to_numpy()
        return count, median, p90


def aggregate(prep: Prepared, level: str = "organisation", *, bench: tiers.Benchmark | None = None) -> pd.DataFrame:
    """One row per (group, month) with every DORA figure of METRICS.md and its tier; groups and
    months without data are present (counts 0, medians NaN)."""
    bench = bench or tiers.benchmark()
    labels = prep.labels
    ids = group_ids(prep, level)
    index = pd.MultiIndex.from_product([ids, labels], names=["group", "month"])
    out = pd.DataFrame(index=index)

    deps = prep.deployments
    k = _Keys(prep, deps, level, ids, "month")
    succeeded = (deps["status"] == "succeeded").to_numpy()
    out["deployments"] = k.count(succeeded)
    days = np.tile(np.array([m.days for m in prep.months], dtype="float64"), len(ids))
    out["per_day"] = out["deployments"].to_numpy() / days
    _deployment_days(prep, level, ids, out)

    leads = prep.leads
    kl = _Keys(prep, leads, level, ids, "month")
    negative = leads["negative"].to_numpy(dtype=bool)
    out["lead_count"], out["lead_median"], out["lead_p90"] = kl.stats(leads["lead_seconds"], ~negative)
    out["lead_negative"] = kl.count(negative)

    out["total"] = k.count()
    out["failed"] = k.count(deps["is_failed"].to_numpy(dtype=bool))
    out["rework"] = k.count(deps["is_rework"].to_numpy(dtype=bool))
    out["unauthorized"] = k.count(deps["is_unauthorized"].to_numpy(dtype=bool))
    out["change_failure_rate"] = (out["failed"] / out["total"]).where(out["total"] > 0)
    out["rework_rate"] = (out["rework"] / out["total"]).where(out["total"] > 0)

    kf = _Keys(prep, deps, level, ids, "failure_month")
    failed = deps["is_failed"].to_numpy(dtype=bool)
    rec = deps["recovery_seconds"].to_numpy(dtype="float64")
    restored = failed & ~np.isnan(rec) & (np.nan_to_num(rec, nan=-1) >= 0)
    out["recovery_count"], out["recovery_median"], out["recovery_p90"] = kf.stats(deps["recovery_seconds"], restored)
    out["unrestored"] = kf.count(deps["unrestored"].to_numpy(dtype=bool))

    out["negative_recovery"] = kf.count(failed & (np.nan_to_num(rec, nan=0) < 0))
    _quality_counts(prep, level, ids, out)

    for col in INT_COLUMNS:
        out[col] = out[col].astype("int64")
    return add_tiers(out, bench)


# The figures of one (group, month), as dora.aggregate returns them and snapshots store them.
INT_COLUMNS = ("deployments", "deployment_days", "lead_count", "lead_negative", "total", "failed", "rework",
               "unauthorized", "recovery_count", "unrestored", "negative_recovery", "unfinished", "no_finish_time",
               "incidents_unlinked", "incidents_suppressed")
FLOAT_COLUMNS = ("per_day", "median_deploy_days_per_week", "lead_median", "lead_p90", "change_failure_rate",
                 "rework_rate", "recovery_median", "recovery_p90")
TIER_COLUMNS = ("deployment_frequency_tier", "lead_time_tier", "change_failure_tier", "recovery_tier")


def add_tiers(out: pd.DataFrame, bench: tiers.Benchmark) -> pd.DataFrame:
    """The tier columns, from the figures and a benchmark (snapshots store figures, not tiers).
    A missing tier is None in an object column, whatever the other rows hold: left to inference,
    pandas makes a column with one tier a string column (missing = NaN) and a column without
    any an object column (missing = None), so the same month read from a snapshot and from a
    recomputation would differ, and NaN would reach the API as a tier."""
    def column(values) -> pd.Series:
        return pd.Series(list(values), index=out.index, dtype=object)

    out["deployment_frequency_tier"] = column(
        tiers.deployment_frequency_tier(m, d, bench)
        for m, d in zip(out["median_deploy_days_per_week"], out["deployment_days"], strict=True))
    out["lead_time_tier"] = column(tiers.lead_time_tier(v, bench) for v in out["lead_median"])
    out["change_failure_tier"] = column(tiers.change_failure_tier(v, bench) for v in out["change_failure_rate"])
    out["recovery_tier"] = column(tiers.recovery_tier(v, bench) for v in out["recovery_median"])
    return out


def _quality_counts(prep: Prepared, level: str, ids: list[int], out: pd.DataFrame) -> None:
    """The data-quality counts of quality.py per group and month: unfinished deployments by the
    month they started, incidents without a link by the month they started."""
    unfinished = prep.unfinished.assign(started_month=month_labels(prep.unfinished["started_at"], prep.months, prep.tz))
    ku = _Keys(prep, unfinished, level, ids, "started_month")
    final = unfinished["status"].isin(FINISHED).to_numpy(dtype=bool)
    out["unfinished"] = ku.count(~final)
    out["no_finish_time"] = ku.count(final)
    links = prep.links.assign(started_month=month_labels(prep.links["started_at"], prep.months, prep.tz))
    ki = _Keys(prep, links, level, ids, "started_month")
    out["incidents_unlinked"] = ki.count((links["link"] == "none").to_numpy(dtype=bool))
    out["incidents_suppressed"] = ki.count((links["link"] == "suppressed").to_numpy(dtype=bool))


def _deployment_days(prep: Prepared, level: str, ids: list[int], out: pd.DataFrame) -> None:
    """Median deployment days per ISO week (weeks with none included) and deployment days in
    the calendar month. A week counts in the month holding its Thursday (periods.weeks_of_month)."""
    dc = prep.day_counts
    pos = _positions(prep, dc, level, ids)
    keep = pos >= 0
    days = pd.DataFrame({"group": pos[keep], "local_date": dc["local_date"].to_numpy()[keep],
                         "monday": dc["monday"].to_numpy()[keep],
                         "month": dc["month"].cat.codes.to_numpy()[keep] if len(dc) else np.zeros(0, "int64")}
                        ).drop_duplicates(["group", "local_date"])
    months = len(prep.months)
    in_month = days.loc[days["month"] >= 0]
    out["deployment_days"] = np.bincount(in_month["group"].to_numpy() * months + in_month["month"].to_numpy(),
                                         minlength=len(ids) * months)
    weeks = [(i, np.datetime64(monday, "D")) for i, m in enumerate(prep.months) for monday in weeks_of_month(m)]
    week_month = np.array([i for i, _ in weeks], dtype="int64")
    week_monday = np.array([d for _, d in weeks], dtype="datetime64[D]")
    # days per (group, week) over the grid of every group x every week of the window
    widx = pd.Index(week_monday).get_indexer(days["monday"].to_numpy().astype("datetime64[D]"))
    ok = widx >= 0
    grid = np.bincount(days["group"].to_numpy()[ok] * len(weeks) + widx[ok], minlength=len(ids) * len(weeks))
    grid_keys = np.repeat(np.arange(len(ids)), len(weeks)) * months + np.tile(week_month, len(ids))
    medians = pd.Series(grid.astype("float64")).groupby(grid_keys).median()
    result = np.full(len(ids) * months, np.nan)
    result[medians.index.to_numpy()] = medians.to_numpy()
    out["median_deploy_days_per_week"] = result


def weekly_table(prep: Prepared, level: str = "organisation", group: int = 0) -> pd.DataFrame:
    """The weeks behind the deployment-frequency median, for the data appendix."""
    dc = prep.day_counts
    dc = dc.loc[_key(dc, level) == group].drop_duplicates(["local_date"])
    per_week = dc.groupby("monday").size()
    rows = []
    for m in prep.months:
        for monday in weeks_of_month(m):
            iso = monday.isocalendar()
            rows.append({"month": m.label, "iso_week": f"{iso[0]}-W{iso[1]:02d}", "week_start": monday.isoformat(),
                         "deployment_days": int(per_week.get(np.datetime64(monday, "D"), 0))})
    return pd.DataFrame(rows, columns=["month", "iso_week", "week_start", "deployment_days"])
