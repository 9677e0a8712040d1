"""Reconciliation: every production deployment of a period against its approved change, the
test SOX auditors run. Exceptions come first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .models import Deployment
from .selectors import production_deployments

EXCEPTION_LABELS = {
    "unauthorized": "No gate allow of its own (for this artifact and change, unused) before deploying",
    "gate_mismatch": "Linked gate decision is not an allow for this service, environment, artifact and change",
    "no_change": "No change request",
    "change_not_approved": "Change not approved before the deployment",
    "change_mismatch": "Change is for another service or environment",
    "outside_planned_window": "Outside the change's planned window",
}


@dataclass
class Row:
    deployment: Deployment
    exceptions: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [EXCEPTION_LABELS[e] for e in self.exceptions]


def _gate_matches(d: Deployment) -> bool:
    """Its gate decision is an allow for exactly what was deployed (records made before one allow
    was held to one deployment may point at another artifact's allow)."""
    gate = d.gate_decision
    return (gate.decision == "allow" and gate.service_id == d.service_id and gate.environment_id == d.environment_id
            and gate.artifact_id == d.artifact_id and gate.change_id == d.change_id)


def _exceptions(d: Deployment) -> list[str]:
    found = []
    if d.is_unauthorized:
        found.append("unauthorized")
    if d.gate_decision is not None and not _gate_matches(d):
        found.append("gate_mismatch")
    change = d.change
    if change is None:
        found.append("no_change")
        return found
    if not change.change_type.is_pre_approved and (change.approved_at is None or change.approved_at > d.started_at):
        found.append("change_not_approved")
    if change.service_id != d.service_id or change.environment_id != d.environment_id:
        found.append("change_mismatch")
    if change.planned_start and change.planned_end and not (change.planned_start <= d.started_at <= change.planned_end):
        found.append("outside_planned_window")
    return found


def reconcile(*, start: datetime, end: datetime) -> list[Row]:
    deployments = production_deployments(start=start, end=end).select_related("change__change_type")
    rows = [Row(d, _exceptions(d)) for d in deployments.order_by("started_at", "id")]
    rows.sort(key=lambda r: (not r.exceptions, r.deployment.started_at))
    return rows


CSV_HEADER = ["deployment_id", "service", "environment", "version", "status", "started_at", "finished_at",
              "change", "change_state", "change_approved_at", "gate_decision_id", "exceptions"]


def csv_rows(rows: list[Row]) -> Iterator[list]:
    """The CSV export's rows (written by releaseportal.csvexport, which neutralises formulas)."""
    for row in rows:
        d = row.deployment
        yield [d.pk, d.service.slug, d.environment.slug, d.version, d.status, d.started_at.isoformat(),
               d.finished_at.isoformat() if d.finished_at else "", d.change.number if d.change else "",
               d.change.state if d.change else "",
               d.change.approved_at.isoformat() if d.change and d.change.approved_at else "",
               d.gate_decision_id or "", ";".join(row.exceptions)]
