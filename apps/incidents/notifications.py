"""Incident emails to the service's stakeholders: the owner team's members and mailbox, and
the people subscribed to the service. Each event (opened, an update, a rollback, the
resolution) is recorded as one IncidentNotification with a unique key, so it is sent once
however many times the task runs or is retried."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from releaseportal.templatetags.portal import day

from .models import Incident, IncidentNotification, IncidentRollback, IncidentUpdate, ServiceSubscription


def stakeholder_emails(service) -> list[str]:
    team = service.owner_team
    emails = set(
        User.objects.filter(memberships__team_id=service.owner_team_id, is_active=True)
        .exclude(email="").values_list("email", flat=True)
    )
    emails |= set(
        ServiceSubscription.objects.filter(service=service, user__is_active=True)
        .exclude(user__email="").values_list("user__email", flat=True)
    )
    if team.email:
        emails.add(team.email)
    return sorted(emails)


def event_key(incident_id: int, event: str, ref_id: int) -> str:
    return f"incident:{incident_id}:{event}:{ref_id}"


def _compose(incident: Incident, event: str, ref_id: int) -> tuple[str, str]:
    link = settings.SITE_URL.rstrip("/") + reverse("incidents:detail", args=[incident.pk])
    head = f"[{incident.severity.upper()}] {incident.reference} {incident.service.name}"
    lines = [f"{incident.title}", f"Service: {incident.service.name} ({incident.service.slug})",
             f"Severity: {incident.get_severity_display()}", f"Status: {incident.get_status_display()}",
             f"Started: {incident.started_at:%Y-%m-%d %H:%M %Z}"]
    if event == IncidentNotification.Event.OPENED:
        subject = f"{head}: incident opened — {incident.title}"
    elif event == IncidentNotification.Event.ROLLBACK:
        rollback = IncidentRollback.objects.select_related("deployment").get(pk=ref_id)
        subject = f"{head}: rollback deployed"
        lines.append(f"Rollback: deployment #{rollback.deployment_id} ({rollback.deployment.version or '?'}), "
                     f"{rollback.deployment.status}")
        if rollback.failed_deployment_id:
            lines.append(f"Rolled back: deployment #{rollback.failed_deployment_id}")
    else:
        update = IncidentUpdate.objects.get(pk=ref_id)
        verb = "resolved" if event == IncidentNotification.Event.RESOLVED else "update"
        subject = f"{head}: {verb}"
        if update.to_status and update.from_status:
            lines.append(f"Status change: {update.from_status} → {update.to_status}")
        if update.message:
            lines.extend(["", update.message])
    lines.extend(["", f"Follow the incident: {link}"])
    return subject[:250], "\n".join(lines)


def notification_send(*, incident_id: int, event: str, ref_id: int) -> IncidentNotification | None:
    """Send an event's email once. Returns the record, or None when it had already been sent."""
    key = event_key(incident_id, event, ref_id)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IncidentNotification.objects.create(incident_id=incident_id, event=event, event_key=key)
        except IntegrityError:
            record = IncidentNotification.objects.select_for_update().get(event_key=key)
            if record.sent_at is not None:
                return None
        incident = Incident.objects.select_related("service", "service__owner_team").get(pk=incident_id)
        recipients = stakeholder_emails(incident.service)
        subject, body = _compose(incident, event, ref_id)
        messages = [EmailMessage(subject=subject, body=body, to=[address]) for address in recipients]
        if messages:
            get_connection().send_messages(messages)
        # Sent inside the transaction: if recording fails the email may repeat once, but an
        # email is never recorded as sent when it was not.
        record.subject = subject
        record.recipients = recipients
        record.sent_at = timezone.now()
        record.save(update_fields=["subject", "recipients", "sent_at"])
    return record


def runbook_reminder_send(runbook) -> bool:
    if not runbook.owner.email:
        return False
    link = settings.SITE_URL.rstrip("/") + reverse("incidents:runbook", args=[runbook.service.slug])
    tested = day(runbook.last_tested_at, "never")
    EmailMessage(
        subject=f"Rollback runbook for {runbook.service.name} is overdue for a test",
        body=(f"The rollback runbook for {runbook.service.name} was last tested successfully: {tested}.\n"
              "Runbooks must pass a test at least once a calendar quarter.\n\n"
              f"Record a test: {link}\n"),
        to=[runbook.owner.email],
    ).send()
    return True


def chat_incident_opened(incident: Incident) -> None:
    """The owning team's chat channels hear of an incident opened (queued in the caller's
    transaction, posted after commit by apps.notifications)."""
    from apps.notifications.services import chat_notify

    service = incident.service
    chat_notify(event="incident_opened", team_id=service.owner_team_id, target_type="incidents.incident",
                target_id=incident.pk, target_repr=incident.reference,
                title=f"{incident.reference} {incident.get_severity_display()}: {incident.title}",
                text=incident.description[:1000], path=reverse("incidents:detail", args=[incident.pk]),
                facts=lambda: [("Service", service.slug), ("Severity", incident.get_severity_display()),
                               ("Started", f"{incident.started_at:%Y-%m-%d %H:%M} UTC"),
                               ("Caused by", f"deployment #{incident.caused_by_deployment_id}"
                                if incident.caused_by_deployment_id else "—")])
