"""Release and governance metrics of METRICS.md, for one month and scope.

They read the change, approval and access-review models of other apps by name, each loaded
with one query. A renamed model or field fails the report loudly: a compliance figure is never
left out silently."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from apps.access_reviews.models import ReviewCampaign, ReviewItem
from apps.change_types.models import ApprovalStage
from apps.changes.models import ChangeRequest, EmergencyOverride, OpenStage
from apps.releases.off_cadence import TrainOffCadence, off_cadence_changes
from apps.releases.retros import retro_month_figures

from .dora import Prepared
from .loading import fetch_frame
from .periods import Month

# What a review item's outcome (written when its campaign closes) says about the grant: the
# reviewer's revocations and the policy's (undecided and inactive) alike.
REVOKED_OUTCOMES = (ReviewItem.Outcome.REVOKED.value, ReviewItem.Outcome.REVOKED_BY_POLICY.value)


@dataclass
class Governance:
    figures: dict = field(default_factory=dict)
    by_team: list[dict] = field(default_factory=list)
    approval_by_type: list[dict] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)
    # Retrospective actions opened / shipped / overdue and recurring incident patterns (apps.releases.retros).
    retros: dict = field(default_factory=dict)
    # Production changes that ran off their release train's cadence, per train (apps.releases.off_cadence).
    off_cadence: list[TrainOffCadence] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _median(series: pd.Series):
    series = series.dropna()
    return float(series.median()) if len(series) else None


def _p90(series: pd.Series):
    series = series.dropna()
    return float(series.quantile(0.9)) if len(series) else None


def compute_governance(prep: Prepared, month: Month, *, service_ids: list[int] | None, as_of) -> Governance:
    gov = Governance()
    tz = prep.tz
    start, end = pd.Timestamp(month.start(tz)), pd.Timestamp(month.end(tz))
    team_of = prep.services.set_index("id")["team_id"]
    team_name = prep.teams.set_index("id")["name"]
    _changes(gov, prep, start, end, service_ids, team_of, team_name, as_of)
    _incidents(gov, prep, start, end)
    deps = prep.deployments
    gov.figures["unauthorized_deployments"] = int((deps["is_unauthorized"] & (deps["month"] == month.label)).sum())
    _access_reviews(gov, start, end, prep)
    gov.retros = retro_month_figures(start=start.to_pydatetime(), end=end.to_pydatetime(),
                                     as_of=pd.Timestamp(as_of).to_pydatetime(), service_ids=service_ids)
    gov.off_cadence = off_cadence_changes(start=start.to_pydatetime(), end=end.to_pydatetime(),
                                          service_ids=service_ids)
    gov.figures["off_cadence_changes"] = sum(len(t.changes) for t in gov.off_cadence)
    gov.tables["off_cadence_changes.csv"] = off_cadence_table(gov.off_cadence)
    return gov


def off_cadence_table(trains: list[TrainOffCadence]) -> pd.DataFrame:
    """One row per off-cadence production change, for the data appendix."""
    rows = [{"train": t.train.slug, "cadence": t.train.cadence, "change": c.change.number,
             "service": c.change.service.slug, "state": c.change.state,
             "planned_start": c.change.planned_start.isoformat(),
             "implemented_at": c.change.implemented_at.isoformat() if c.change.implemented_at else "",
             "emergency": c.emergency, "justification": c.justification, "justified_by": c.justified_by}
            for t in trains for c in t.changes]
    return pd.DataFrame(rows, columns=["train", "cadence", "change", "service", "state", "planned_start",
                                       "implemented_at", "emergency", "justification", "justified_by"])


def _changes(gov, prep, start, end, service_ids, team_of, team_name, as_of) -> None:
    kinds = {"id": "int", "number": "str", "service_id": "int", "state": "str", "change_type_id": "int",
             "change_type__name": "str", "change_type__is_emergency": "bool", "submitted_at": "dt",
             "approved_at": "dt", "implemented_at": "dt", "outcome": "str", "post_mortem_at": "dt",
             "post_mortem_due_at": "dt", "is_unauthorised": "bool"}
    qs = ChangeRequest.objects.order_by()
    if service_ids is not None:
        qs = qs.filter(service_id__in=service_ids)
    changes = fetch_frame(qs, kinds)
    changes["team_id"] = changes["service_id"].map(team_of)

    # Change success / failure by team: implemented in the month; failed when closed failed or
    # rolled back, or when one of its production deployments is linked to an incident.
    deps = prep.deployments
    incident_changes = set(deps.loc[(deps["incidents"] > 0) & deps["change_id"].notna(), "change_id"].astype("int64"))
    implemented = changes.loc[(changes["implemented_at"] >= start) & (changes["implemented_at"] < end)].copy()
    implemented["failed"] = (implemented["state"].isin(("failed", "rolled_back"))
                             | implemented["outcome"].isin(("failed", "rolled_back"))
                             | implemented["id"].isin(incident_changes))
    per_team = implemented.groupby("team_id").agg(implemented=("id", "size"), failed=("failed", "sum"))
    gov.by_team = [{"team": team_name.get(tid, "?"), "implemented": int(r.implemented), "failed": int(r.failed),
                    "failure_rate": r.failed / r.implemented, "success_rate": 1 - r.failed / r.implemented}
                   for tid, r in per_team.sort_index().iterrows()]
    gov.figures["changes_implemented"] = int(len(implemented))
    gov.figures["changes_failed"] = int(implemented["failed"].sum())

    # Approval lead time per change type and SLA breaches (total SLA of the type's stages).
    approved = changes.loc[(changes["approved_at"] >= start) & (changes["approved_at"] < end)
                           & changes["submitted_at"].notna()].copy()
    approved["approval_seconds"] = (approved["approved_at"] - approved["submitted_at"]).dt.total_seconds()
    sla = _stage_sla_seconds()
    approved["sla_seconds"] = approved["change_type_id"].map(sla)
    approved["sla_breached"] = approved["approval_seconds"] > approved["sla_seconds"]
    gov.approval_by_type = [
        {"change_type": name, "approved": int(len(g)), "median_seconds": _median(g["approval_seconds"]),
         "sla_breaches": int(g["sla_breached"].sum())}
        for name, g in approved.groupby("change_type__name")]
    gov.figures["approval_sla_breaches"] = int(approved["sla_breached"].sum())
    gov.figures["approval_median_seconds"] = _median(approved["approval_seconds"])
    gov.figures["open_stages_past_due"] = _open_stages_past_due(changes["id"], as_of)

    submitted = changes.loc[(changes["submitted_at"] >= start) & (changes["submitted_at"] < end)]
    emergency = int(submitted["change_type__is_emergency"].sum())
    gov.figures["changes_submitted"] = int(len(submitted))
    gov.figures["emergency_changes"] = emergency
    gov.figures["emergency_ratio"] = emergency / len(submitted) if len(submitted) else None
    as_of_ts = pd.Timestamp(as_of)
    overdue_pm = changes["post_mortem_due_at"].notna() & (changes["post_mortem_due_at"] < as_of_ts) & changes[
        "post_mortem_at"].isna()
    gov.figures["overdue_post_mortems"] = int(overdue_pm.sum())
    gov.figures["overdue_retrospectives"] = _overdue_retrospectives(changes["id"], as_of_ts)
    gov.figures["unauthorised_changes"] = int(changes.loc[changes["implemented_at"].between(start, end, "left"),
                                                          "is_unauthorised"].sum())
    gov.tables["governance_changes.csv"] = pd.DataFrame({
        "change": implemented["number"], "team": implemented["team_id"].map(team_name), "state": implemented["state"],
        "implemented_at": implemented["implemented_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "failed": implemented["failed"], "emergency": implemented["change_type__is_emergency"]})
    gov.tables["governance_approvals.csv"] = pd.DataFrame({
        "change": approved["number"], "change_type": approved["change_type__name"],
        "submitted_at": approved["submitted_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "approved_at": approved["approved_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "approval_seconds": approved["approval_seconds"], "sla_seconds": approved["sla_seconds"],
        "sla_breached": approved["sla_breached"]})


def _stage_sla_seconds() -> pd.Series:
    frame = fetch_frame(ApprovalStage.objects.filter(mandatory=True).order_by(),
                        {"change_type_id": "int", "sla_hours": "int"})
    return frame.groupby("change_type_id")["sla_hours"].sum() * 3600


def _open_stages_past_due(change_ids: pd.Series, as_of) -> int:
    frame = fetch_frame(OpenStage.objects.filter(due_at__lt=as_of).order_by(), {"change_id": "int"})
    return int(frame["change_id"].isin(set(change_ids)).sum())


def _overdue_retrospectives(change_ids: pd.Series, as_of: pd.Timestamp) -> int:
    frame = fetch_frame(EmergencyOverride.objects.filter(revoked_at__isnull=True).order_by(),
                        {"change_id": "int", "expires_at": "dt", "retro_approved_at": "dt"})
    overdue = frame["retro_approved_at"].isna() & (frame["expires_at"] < as_of) & frame["change_id"].isin(set(change_ids))
    return int(overdue.sum())


def _incidents(gov: Governance, prep: Prepared, start, end) -> None:
    links = prep.links
    started = links.loc[(links["started_at"] >= start) & (links["started_at"] < end)]
    seconds = (started["resolved_at"] - started["started_at"]).dt.total_seconds()
    gov.figures["incidents"] = int(len(started))
    gov.figures["incidents_unresolved"] = int(started["resolved_at"].isna().sum())
    gov.figures["incident_recovery_median_seconds"] = _median(seconds)
    gov.figures["incident_recovery_p90_seconds"] = _p90(seconds)
    gov.figures["incidents_by_severity"] = {k: int(v) for k, v in started["severity"].value_counts().sort_index().items()}


def _access_reviews(gov: Governance, start, end, prep: Prepared) -> None:
    camps = fetch_frame(ReviewCampaign.objects.filter(opened_at__lt=end).order_by(),
                        {"id": "int", "name": "str", "status": "str", "opened_at": "dt", "closed_at": "dt"})
    camps = camps.loc[camps["closed_at"].isna() | (camps["closed_at"] >= start)]
    items = fetch_frame(ReviewItem.objects.filter(campaign_id__in=list(camps["id"])).order_by(),
                        {"campaign_id": "int", "decision": "str", "outcome": "str"})
    for _, c in camps.sort_values("opened_at").iterrows():
        mine = items.loc[items["campaign_id"] == c["id"]]
        total = len(mine)
        decided = int((mine["decision"] != "").sum())
        gov.campaigns.append({
            "name": c["name"], "status": c["status"], "items": total, "decided": decided,
            "completion": decided / total if total else None,
            # Revocations applied at closing, by a reviewer or by policy: the outcome, not the
            # decision (a policy revocation has no decision; a decision is not yet applied).
            "revocations": int(mine["outcome"].isin(REVOKED_OUTCOMES).sum()),
        })
    gov.tables["governance_access_reviews.csv"] = pd.DataFrame(
        gov.campaigns, columns=["name", "status", "items", "decided", "completion", "revocations"])
