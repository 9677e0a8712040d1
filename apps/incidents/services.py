"""Incident services: every write to an incident, its timeline, its link, its rollbacks and its
evidence goes through here — row-locked, in history and the audit log, notifications on commit.

Runbook services live in runbooks.py and review services in reviews.py."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.delivery.models import Deployment
from releaseportal.errors import Conflict, InvalidInput, Unprocessable

from .linking import linked_deployment
from .models import (
    Incident,
    IncidentAttachment,
    IncidentClassification,
    IncidentNotification,
    IncidentRollback,
    IncidentUpdate,
    Review,
    Runbook,
    ServiceSubscription,
)
from .notifications import chat_incident_opened
from .state_machine import TIMESTAMP_ON_ENTRY, is_allowed

S = Incident.Status
# Clocks differ between pipelines and the portal; beyond this a time "in the future" is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
EDITABLE_FIELDS = ("title", "description", "severity", "classification", "commander", "detected_at",
                   "acknowledged_at")


def _stamp(obj, actor, reason: str = "") -> None:
    history_stamp(obj, actor)
    if reason:
        obj._change_reason = reason[:100]


def _check_times(*, started_at: datetime, detected_at=None, acknowledged_at=None, mitigated_at=None,
                 resolved_at=None) -> None:
    fields: dict[str, list[str]] = {}
    now = timezone.now()
    if started_at > now + CLOCK_SKEW:
        fields["started_at"] = ["Must not be in the future."]
    for name, value in (("detected_at", detected_at), ("acknowledged_at", acknowledged_at),
                        ("mitigated_at", mitigated_at), ("resolved_at", resolved_at)):
        if value is None:
            continue
        if value < started_at:
            fields[name] = ["Must not be before started_at."]
        elif value > now + CLOCK_SKEW:
            fields[name] = ["Must not be in the future."]
    if fields:
        raise InvalidInput("Incident times are inconsistent: " + ", ".join(fields) + ".", code="invalid_times",
                           fields=fields)


def _notify(incident: Incident, event: str, ref_id: int) -> None:
    from .tasks import send_incident_notification

    transaction.on_commit(lambda: send_incident_notification.delay(incident.pk, event, ref_id))


def _audit(action: str, incident: Incident, actor, **details: Any) -> None:
    audit_event_record(action=action, target=incident, actor=actor, details=details)


# --- incidents -----------------------------------------------------------------------------

def incident_open(*, service, title: str, severity: str, started_at: datetime, actor: Any,
                  classification: IncidentClassification | None = None, commander=None, description: str = "",
                  detected_at: datetime | None = None, acknowledged_at: datetime | None = None,
                  resolved_at: datetime | None = None, caused_by_deployment: Deployment | None = None) -> Incident:
    """Open an incident (or record one already resolved, when `resolved_at` is given)."""
    resolved = resolve_actor(actor)
    if not title.strip():
        raise InvalidInput("An incident needs a title.", fields={"title": ["This field may not be blank."]})
    if severity not in Incident.Severity.values:
        raise InvalidInput("Unknown severity.", fields={"severity": [f"One of {', '.join(Incident.Severity.values)}."]})
    _check_times(started_at=started_at, detected_at=detected_at, acknowledged_at=acknowledged_at,
                 resolved_at=resolved_at)
    with atomic_as(resolved):
        incident = Incident(
            service=service, title=title.strip(), severity=severity, started_at=started_at, detected_at=detected_at,
            acknowledged_at=acknowledged_at, classification=classification, commander=commander,
            description=description, caused_by_deployment=caused_by_deployment, created_by=resolved.user,
            status=S.RESOLVED if resolved_at else S.OPEN, resolved_at=resolved_at,
        )
        _stamp(incident, resolved, "opened")
        incident.save()
        opened = IncidentUpdate.objects.create(
            incident=incident, kind=IncidentUpdate.Kind.OPENED, to_status=incident.status, author=resolved.user,
            message=description or f"{incident.get_severity_display()} incident opened.",
        )
        _audit("incident.opened", incident, resolved, service=service.slug, severity=severity,
               status=incident.status, caused_by_deployment=caused_by_deployment.pk if caused_by_deployment else None)
        if resolved_at and incident.review_required:
            from .reviews import review_ensure_for

            review_ensure_for(incident=incident, actor=resolved)
        _notify(incident, IncidentNotification.Event.OPENED, opened.pk)
        if incident.status == S.OPEN:  # not one recorded after the fact, already resolved
            chat_incident_opened(incident)
    return incident


def incident_edit(*, incident: Incident, actor: Any, **changes: Any) -> Incident:
    """Change descriptive fields (title, severity, classification, commander, times)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput("These fields cannot be changed here.", fields={k: ["Not editable."] for k in unknown})
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status == S.CLOSED:
            raise Conflict("A closed incident cannot be changed.", code="incident_closed")
        if "severity" in changes and changes["severity"] not in Incident.Severity.values:
            raise InvalidInput("Unknown severity.", fields={"severity": ["Unknown severity."]})
        if "title" in changes and not str(changes["title"]).strip():
            raise InvalidInput("An incident needs a title.", fields={"title": ["This field may not be blank."]})
        before = {}
        for name, value in changes.items():
            old = getattr(locked, name)
            if old != value:
                before[name] = old
                setattr(locked, name, value)
        if not before:
            return locked
        _check_times(started_at=locked.started_at, detected_at=locked.detected_at,
                     acknowledged_at=locked.acknowledged_at)
        _stamp(locked, resolved, "edited")
        locked.save()
        _audit("incident.updated", locked, resolved, fields={k: [str(v), str(getattr(locked, k))]
                                                            for k, v in before.items()})
        if "severity" in before and locked.review_required and locked.status in (S.RESOLVED, S.CLOSED):
            from .reviews import review_ensure_for

            review_ensure_for(incident=locked, actor=resolved)
    return locked


def incident_post_update(*, incident: Incident, actor: Any, message: str = "", to_status: str | None = None,
                         at: datetime | None = None) -> IncidentUpdate:
    """Add an entry to the status timeline; with `to_status`, move the incident through the table.

    `at` backdates the status timestamp (a pipeline reporting `resolved_at`); it defaults to now.
    Returns the new timeline entry; its `incident` is the locked, updated incident."""
    resolved = resolve_actor(actor)
    message = (message or "").strip()
    if not message and not to_status:
        raise InvalidInput("Write an update or choose a new status.", fields={"message": ["This field is required."]})
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        from_status = locked.status
        if to_status and to_status != from_status:
            if to_status not in S.values:
                raise InvalidInput("Unknown status.", fields={"status": [f"One of {', '.join(S.values)}."]})
            if not is_allowed(from_status, to_status):
                raise Conflict(f"An incident that is {from_status} cannot move to {to_status}.",
                               code="invalid_transition", fields={"status": [f"{from_status} → {to_status} is not allowed"]})
            if to_status == S.CLOSED and locked.review_required:
                review = Review.objects.filter(incident=locked).first()
                if review is None or review.status != review.Status.COMPLETED:
                    raise Conflict("A sev1/sev2 incident closes only after its post-incident review is completed.",
                                   code="review_required", fields={"status": ["Complete the review first."]})
            stamp_at = at or timezone.now()
            stamp = TIMESTAMP_ON_ENTRY.get(to_status)
            if stamp:
                _check_times(started_at=locked.started_at, **{stamp: stamp_at})
                setattr(locked, stamp, stamp_at)
            if to_status == S.RESOLVED and locked.mitigated_at is None:
                locked.mitigated_at = stamp_at
            if to_status == S.OPEN:  # reopened: it is no longer resolved or mitigated
                locked.resolved_at = None
                locked.mitigated_at = None
            locked.status = to_status
            _stamp(locked, resolved, f"{from_status} → {to_status}")
            locked.save()
            update = IncidentUpdate.objects.create(
                incident=locked, kind=IncidentUpdate.Kind.STATUS, from_status=from_status, to_status=to_status,
                message=message, author=resolved.user)
            _audit(f"incident.{to_status}", locked, resolved, **{"from": from_status, "to": to_status,
                                                                "message": message})
            if to_status == S.RESOLVED and locked.review_required:
                from .reviews import review_ensure_for

                review_ensure_for(incident=locked, actor=resolved)
            event = IncidentNotification.Event.RESOLVED if to_status == S.RESOLVED else IncidentNotification.Event.UPDATE
        else:
            if locked.status == S.CLOSED:
                raise Conflict("A closed incident takes no more updates.", code="incident_closed")
            update = IncidentUpdate.objects.create(incident=locked, kind=IncidentUpdate.Kind.NOTE, message=message,
                                                   author=resolved.user)
            _audit("incident.update_posted", locked, resolved, message=message)
            event = IncidentNotification.Event.UPDATE
        _notify(locked, event, update.pk)
    return update


def incident_link_override(*, incident: Incident, actor: Any, reason: str, deployment: Deployment | None = None,
                           suppress: bool = False) -> Incident:
    """Override the deployment link with a reason: to a deployment (explicit), to "none"
    (suppressed), or — neither — back to the inferred rule."""
    resolved = resolve_actor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the link is overridden.", code="reason_required",
                           fields={"link_override_reason": ["This field is required."]})
    if deployment is not None and suppress:
        raise InvalidInput("Choose a deployment or 'no deployment', not both.",
                           fields={"caused_by_deployment": ["Conflicts with link_suppressed."]})
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().select_related("service").get(pk=incident.pk)
        before, before_kind = linked_deployment(locked)
        locked.caused_by_deployment = deployment
        locked.link_suppressed = suppress
        locked.link_override_reason = reason
        locked.link_overridden_by = resolved.user
        locked.link_overridden_at = timezone.now()
        _stamp(locked, resolved, "link overridden")
        locked.save()
        after, after_kind = linked_deployment(locked)
        describe = (f"Linked to deployment #{deployment.pk}" if deployment else
                    "Marked as not caused by a deployment" if suppress else "Link reset to the inferred rule")
        IncidentUpdate.objects.create(incident=locked, kind=IncidentUpdate.Kind.LINK, author=resolved.user,
                                      message=f"{describe}: {reason}")
        _audit("incident.link_overridden", locked, resolved, reason=reason,
               before={"deployment": before.pk if before else None, "link": before_kind},
               after={"deployment": after.pk if after else None, "link": after_kind})
    return locked


# --- rollbacks -----------------------------------------------------------------------------

def rollback_record(*, incident: Incident, deployment: Deployment, actor: Any,
                    failed_deployment: Deployment | None = None, note: str = "") -> IncidentRollback:
    """Tie a `rollback` deployment to the incident and to the deployment it rolled back."""
    resolved = resolve_actor(actor)
    if deployment.kind != Deployment.Kind.ROLLBACK:
        raise Unprocessable("Only a deployment of kind 'rollback' can be recorded as a rollback.",
                            code="not_a_rollback", fields={"deployment": ["Kind must be rollback."]})
    if deployment.service_id != incident.service_id:
        raise Unprocessable("The rollback deployment is for another service.", code="service_mismatch",
                            fields={"deployment": ["Must be a deployment of the incident's service."]})
    if failed_deployment is None and deployment.rollback_of_id:
        failed_deployment = deployment.rollback_of
    if failed_deployment is None:
        failed_deployment, _ = linked_deployment(incident)
        if failed_deployment is not None and failed_deployment.pk == deployment.pk:
            failed_deployment = None  # the inferred link can be the rollback itself; it rolled back nothing known
    if failed_deployment is not None:
        if failed_deployment.pk == deployment.pk:
            raise Unprocessable("A rollback cannot roll back itself.", code="invalid_failed_deployment",
                                fields={"failed_deployment": ["Must differ from the rollback."]})
        if failed_deployment.service_id != incident.service_id:
            raise Unprocessable("The failed deployment is for another service.", code="service_mismatch",
                                fields={"failed_deployment": ["Must be a deployment of the incident's service."]})
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status == S.CLOSED:
            raise Conflict("A closed incident takes no more rollbacks.", code="incident_closed")
        runbook = Runbook.objects.filter(service_id=locked.service_id).first()
        try:
            with transaction.atomic():
                rollback = IncidentRollback(incident=locked, deployment=deployment, failed_deployment=failed_deployment,
                                            runbook=runbook, note=note, recorded_by=resolved.user)
                _stamp(rollback, resolved)
                rollback.save()
        except IntegrityError as exc:
            raise Conflict("This rollback is already recorded for the incident.",
                           code="rollback_already_recorded") from exc
        failed_text = f" of deployment #{failed_deployment.pk} ({failed_deployment.version or '?'})" if failed_deployment else ""
        IncidentUpdate.objects.create(
            incident=locked, kind=IncidentUpdate.Kind.ROLLBACK, author=resolved.user,
            message=f"Rollback deployment #{deployment.pk} ({deployment.version or '?'}, {deployment.status}){failed_text}."
                    + (f" {note}" if note else ""))
        _audit("incident.rollback_recorded", locked, resolved, deployment=deployment.pk,
               failed_deployment=failed_deployment.pk if failed_deployment else None,
               runbook=runbook.pk if runbook else None)
        _notify(locked, IncidentNotification.Event.ROLLBACK, rollback.pk)
    return rollback


# --- evidence ------------------------------------------------------------------------------

def attachment_add(*, incident: Incident, kind: str, actor: Any, upload: File | None = None, text: str = "",
                   filename: str = "", description: str = "") -> IncidentAttachment:
    """Attach evidence: a file, or a typed note stored as text. Hashed (SHA-256), size-limited,
    and never changed afterwards."""
    resolved = resolve_actor(actor)
    if kind not in IncidentAttachment.Kind.values:
        raise InvalidInput("Unknown evidence kind.", fields={"kind": [f"One of {', '.join(IncidentAttachment.Kind.values)}."]})
    if upload is None:
        if not text.strip():
            raise InvalidInput("Attach a file or write a note.", fields={"file": ["No file and no note."]})
        upload = ContentFile(text.encode("utf-8"), name=filename or "note.txt")
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = getattr(upload, "content_type", "") or ""
    name = (filename or getattr(upload, "name", "") or "attachment").rsplit("/", 1)[-1][:255]
    limit = settings.EVIDENCE_MAX_BYTES
    size = upload.size
    if size is not None and size > limit:
        raise Unprocessable(f"The file is larger than {limit} bytes.", code="file_too_large",
                            fields={"file": [f"At most {limit} bytes."]})
    digest = hashlib.sha256()
    total = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        total += len(chunk)
        if total > limit:
            raise Unprocessable(f"The file is larger than {limit} bytes.", code="file_too_large",
                                fields={"file": [f"At most {limit} bytes."]})
    if total == 0:
        raise InvalidInput("The file is empty.", fields={"file": ["The file is empty."]})
    upload.seek(0)
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        attachment = IncidentAttachment(incident=locked, kind=kind, filename=name, content_type=content_type[:100],
                                        size=total, sha256=digest.hexdigest(), description=description[:300],
                                        uploaded_by=resolved.user)
        _stamp(attachment, resolved)
        attachment.file.save(name, upload, save=False)
        try:
            attachment.save()
        except Exception:
            attachment.file.delete(save=False)
            raise
        IncidentUpdate.objects.create(incident=locked, kind=IncidentUpdate.Kind.ATTACHMENT, author=resolved.user,
                                      message=f"{attachment.get_kind_display()} attached: {name} (sha256 {attachment.sha256[:12]}…)")
        _audit("incident.evidence_attached", locked, resolved, attachment=attachment.pk, filename=name,
               sha256=attachment.sha256, size=total, kind=kind)
    return attachment


# --- subscriptions -------------------------------------------------------------------------

def subscription_set(*, service, user, subscribed: bool, actor: Any) -> bool:
    """Subscribe or unsubscribe a person to a service's incident emails. Returns the new state."""
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        existing = ServiceSubscription.objects.filter(service=service, user=user).first()
        if subscribed and existing is None:
            subscription = ServiceSubscription(service=service, user=user)
            _stamp(subscription, resolved)
            subscription.save()
            audit_event_record(action="incident.subscribed", target=service, actor=resolved, details={"user": user.username})
        elif not subscribed and existing is not None:
            _stamp(existing, resolved)
            existing.delete()
            audit_event_record(action="incident.unsubscribed", target=service, actor=resolved,
                               details={"user": user.username})
    return subscribed
