"""Incident tasks: thin, idempotent, safe to retry."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.audit.actor import Actor, acting_as

# A reminder goes out at most this often per runbook, however often beat runs.
REMINDER_INTERVAL = timedelta(days=6)


@shared_task(acks_late=True)
def send_incident_notification(incident_id: int, event: str, ref_id: int) -> bool:
    from .notifications import notification_send

    with acting_as(Actor.for_task("incidents.send_incident_notification")):
        return notification_send(incident_id=incident_id, event=event, ref_id=ref_id) is not None


@shared_task(acks_late=True)
def remind_overdue_runbooks() -> int:
    """Email the owner of every overdue runbook (once per interval)."""
    from .models import Runbook
    from .notifications import runbook_reminder_send
    from .runbooks import runbooks_list

    now = timezone.now()
    sent = 0
    with acting_as(Actor.for_task("incidents.remind_overdue_runbooks")):
        due = runbooks_list(overdue=True).exclude(last_reminded_at__gte=now - REMINDER_INTERVAL)
        for runbook in due:
            if runbook_reminder_send(runbook):
                # Housekeeping timestamp only, not a governed change: no history row needed.
                Runbook.objects.filter(pk=runbook.pk).update(last_reminded_at=now)
                sent += 1
    return sent
