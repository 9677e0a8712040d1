"""Every record class that has a retention policy, and how to read, archive and purge it.

One spec per class (`RecordClass`): the model, which rows are closed, the time a record closed
(the archive month and the retention "closure"), the time it was created, the paths a legal
hold is matched on (service, team, compliance scopes), and the rows that belong to it and go
with it (a change's approvals, an incident's updates and review...). Archives and purges read
only these specs, so a class is handled the same way everywhere.

The audit log is a class of its own: archived like the others, but never purged record by
record — the hash chain needs every link, so its oldest events go only as a prefix behind a
checkpoint (`retention.audit_events_purge`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps as django_apps
from django.core.files.storage import storages
from django.db import models
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from .models import RecordClass

AUDIT_EVENT_NEVER_PURGED = (
    "audit events are never purged record by record: the hash chain needs every link. The oldest "
    "events go only as a whole prefix of the chain, behind a checkpoint (retention.audit_events_purge)")


@dataclass(frozen=True)
class Related:
    """Rows that belong to a record and are archived and purged with it. `owner` is the path
    from the related model to the record ("change", "review__incident")."""

    name: str
    model: str
    owner: str
    # Plain path fields naming files in a storage (FileFields are found on their own).
    path_files: tuple[tuple[str, str], ...] = ()

    def model_class(self):
        return django_apps.get_model(self.model)


@dataclass(frozen=True)
class ClassSpec:
    model: str
    closure_field: str
    creation_field: str
    reference: str
    title: str
    closed: dict[str, Any] = field(default_factory=dict)
    service_path: str | None = None
    team_path: str | None = None
    related: tuple[Related, ...] = ()
    # Computed fields (name -> expression factory), e.g. when an evidence document was last in effect.
    annotations: tuple[tuple[str, Callable[[], Any]], ...] = ()
    # For records that name their service or team otherwise than by a foreign key.
    hold_expressions: Callable[[], dict[str, Any]] | None = None
    # Records about many services at once (see retention.HeldRecord).
    spans_services: bool = False
    never_purged: str = ""

    def model_class(self):
        try:
            return django_apps.get_model(self.model)
        except LookupError:
            return None

    def queryset(self, *, closed_only: bool = True) -> models.QuerySet:
        qs = self.model_class()._default_manager.all()
        if self.annotations:
            qs = qs.annotate(**{name: make() for name, make in self.annotations})
        return qs.filter(**self.closed) if closed_only else qs

    def record_fields(self) -> list[str]:
        model = self.model_class()
        return [f.attname for f in model._meta.concrete_fields] + [name for name, _ in self.annotations]

    def hold_fields(self) -> dict[str, Any]:
        """Expressions for the values a legal hold is matched on, named hold_*."""
        if self.hold_expressions is not None:
            return self.hold_expressions()
        fields: dict[str, Any] = {}
        if self.service_path:
            fields["hold_service_id"] = F(self.service_path)
            fields["hold_service_slug"] = F(f"{self.service_path}__slug")
            fields["hold_scopes"] = F(f"{self.service_path}__compliance_scopes")
        if self.team_path:
            fields["hold_team_id"] = F(self.team_path)
        return fields


def _evidence_last_in_effect():
    """An evidence document is in effect while its artifact is deployed: until the last
    deployment of that artifact finished (or, never deployed, from when it was recorded)."""
    deployment = django_apps.get_model("delivery", "Deployment")
    last = (deployment.objects.filter(artifact_id=OuterRef("artifact_id")).order_by()
            .values("artifact_id").annotate(last=models.Max(Coalesce("finished_at", "started_at"))).values("last"))
    return Coalesce(Subquery(last[:1], output_field=models.DateTimeField()), F("created_at"))


def _artifact_last_in_effect():
    """An artifact is in effect while it is deployed: until its last deployment finished (or,
    never deployed, from when it was registered)."""
    deployment = django_apps.get_model("delivery", "Deployment")
    last = (deployment.objects.filter(artifact_id=OuterRef("pk")).order_by()
            .values("artifact_id").annotate(last=models.Max(Coalesce("finished_at", "started_at"))).values("last"))
    return Coalesce(Subquery(last[:1], output_field=models.DateTimeField()), F("created_at"))


def _report_hold_fields() -> dict[str, Any]:
    """A stored report names its scope by slug: a service report is held with its service (and
    its owner team), a team report with its team."""
    service = django_apps.get_model("catalog", "Service")
    team = django_apps.get_model("accounts", "Team")
    by_slug = service.objects.filter(slug=OuterRef("scope_slug"))
    return {
        "hold_service_id": Case(When(scope_type="service", then=Subquery(by_slug.values("pk")[:1])),
                                output_field=models.BigIntegerField()),
        "hold_service_slug": Case(When(scope_type="service", then=F("scope_slug")), default=Value("")),
        "hold_scopes": Case(When(scope_type="service", then=Subquery(by_slug.values("compliance_scopes")[:1])),
                            output_field=service._meta.get_field("compliance_scopes")),
        "hold_team_id": Case(
            When(scope_type="service", then=Subquery(by_slug.values("owner_team_id")[:1])),
            When(scope_type="team", then=Subquery(team.objects.filter(slug=OuterRef("scope_slug")).values("pk")[:1])),
            output_field=models.BigIntegerField()),
    }


SPECS: dict[str, ClassSpec] = {
    RecordClass.CHANGE_REQUEST: ClassSpec(
        "changes.ChangeRequest", "closed_at", "created_at", "number", "title",
        closed={"state__in": ["closed", "completed", "failed", "rolled_back", "rejected", "cancelled"]},
        service_path="service", team_path="service__owner_team",
        related=(Related("approvals", "changes.Approval", "change"),
                 Related("emergency_overrides", "changes.EmergencyOverride", "change"),
                 Related("cab_agenda_items", "changes.CabAgendaItem", "change"),
                 Related("open_stages", "changes.OpenStage", "change"))),
    RecordClass.DEPLOYMENT: ClassSpec(
        "delivery.Deployment", "finished_at", "started_at", "id", "version",
        closed={"status__in": ["succeeded", "failed", "rolled_back"]},
        service_path="service", team_path="service__owner_team",
        related=(Related("commits", "delivery.DeploymentCommit", "deployment"),)),
    # A gate decision is final when made: it closes as it is created.
    RecordClass.GATE_DECISION: ClassSpec(
        "delivery.GateDecision", "created_at", "created_at", "id", "decision",
        service_path="service", team_path="service__owner_team"),
    RecordClass.INCIDENT: ClassSpec(
        "incidents.Incident", "resolved_at", "started_at", "id", "title",
        closed={"status__in": ["resolved", "closed"]}, service_path="service", team_path="service__owner_team",
        related=(Related("updates", "incidents.IncidentUpdate", "incident"),
                 Related("notifications", "incidents.IncidentNotification", "incident"),
                 Related("attachments", "incidents.IncidentAttachment", "incident"),
                 Related("rollbacks", "incidents.IncidentRollback", "incident"),
                 Related("review", "incidents.Review", "incident"),
                 Related("action_items", "incidents.ActionItem", "review__incident"))),
    RecordClass.ACCESS_REVIEW: ClassSpec(
        "access_reviews.ReviewCampaign", "closed_at", "opened_at", "id", "name",
        closed={"status": "closed"}, team_path="scope_team", spans_services=True,
        related=(Related("items", "access_reviews.ReviewItem", "campaign"),
                 Related("reports", "access_reviews.CampaignReport", "campaign", path_files=(("path", "archive"),)))),
    # A stored monthly report is final when generated.
    RecordClass.REPORT: ClassSpec(
        "reports.ReportRun", "generated_at", "generated_at", "id", "scope_name",
        related=(Related("deliveries", "reports.ReportDelivery", "run"),), hold_expressions=_report_hold_fields),
    RecordClass.EVIDENCE_DOCUMENT: ClassSpec(
        "delivery.Evidence", "last_in_effect", "created_at", "id", "filename",
        service_path="artifact__service", team_path="artifact__service__owner_team",
        annotations=(("last_in_effect", _evidence_last_in_effect),)),
    # A build: purged only once nothing (deployments, evidence, gate decisions) still names it.
    RecordClass.ARTIFACT: ClassSpec(
        "delivery.Artifact", "last_in_effect", "created_at", "digest", "version",
        service_path="service", team_path="service__owner_team",
        annotations=(("last_in_effect", _artifact_last_in_effect),)),
    RecordClass.AUDIT_EVENT: ClassSpec(
        "audit.AuditEvent", "created_at", "created_at", "seq", "action", never_purged=AUDIT_EVENT_NEVER_PURGED),
}


def related_rows(spec: ClassSpec, ids: Iterable[Any]) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """{related name: {record id: [rows, by pk]}} for the records `ids`: one query per kind."""
    ids = list(ids)
    found: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for rel in spec.related:
        model = rel.model_class()
        grouped: dict[Any, list[dict[str, Any]]] = {}
        if ids:
            fields = [f.attname for f in model._meta.concrete_fields]
            for values in (model._default_manager.filter(**{f"{rel.owner}__in": ids}).order_by("pk")
                           .values(*fields, archive_owner_key=F(rel.owner))):
                grouped.setdefault(values.pop("archive_owner_key"), []).append(values)
        found[rel.name] = grouped
    return found


def history_rows(model, ids: Iterable[Any]) -> dict[Any, list[dict[str, Any]]]:
    history = getattr(model, "history", None)
    grouped: dict[Any, list[dict[str, Any]]] = {}
    ids = list(ids)
    if history is None or not ids:
        return grouped
    pk = model._meta.pk.attname
    for values in history.filter(**{f"{pk}__in": ids}).order_by("history_date", "history_id").values():
        grouped.setdefault(values[pk], []).append(values)
    return grouped


def stored_files(model, rows: Iterable[dict[str, Any]], path_files: tuple[tuple[str, str], ...] = ()
                 ) -> list[tuple[Any, str]]:
    """(storage, name) of every file the rows point at, to delete once a purge commits."""
    files = []
    file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    for row in rows:
        for f in file_fields:
            if row.get(f.attname):
                files.append((f.storage, row[f.attname]))
        for name, alias in path_files:
            if row.get(name):
                files.append((storages[alias], row[name]))
    return files


def delete_with_history(model, ids: list[Any]) -> None:
    """Delete rows and every history row of them (the caller holds `triggers.unlocked()`)."""
    if not ids:
        return
    pk = model._meta.pk.attname
    model._default_manager.filter(**{f"{pk}__in": ids}).delete()
    history = getattr(model, "history", None)
    if history is not None:
        # After the delete: simple-history records the deletion itself as one more row.
        history.model.objects.filter(**{f"{pk}__in": ids}).delete()


def purge_rows(spec: ClassSpec, ids: list[Any]) -> list[tuple[Any, str]]:
    """Delete the records, what belongs to them and all their history. Returns the stored
    files to delete after commit. Raises ProtectedError when another record still needs one."""
    related = related_rows(spec, ids)
    files: list[tuple[Any, str]] = []
    # Deepest first: an action item before its review, a review before its incident.
    for rel in reversed(spec.related):
        model = rel.model_class()
        rows = [row for rows in related[rel.name].values() for row in rows]
        files += stored_files(model, rows, rel.path_files)
        delete_with_history(model, [row[model._meta.pk.attname] for row in rows])
    model = spec.model_class()
    files += stored_files(model, model._default_manager.filter(pk__in=ids).values())
    delete_with_history(model, ids)
    return files
