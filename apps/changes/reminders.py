"""SLA reminders and escalation: approvers of a stage are reminded when 75 % of its SLA has
passed; the release managers are told when it is breached. Each is sent once per stage."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_event_record

from . import notifications, workflow
from .models import ApprovalReminder, OpenStage

REMINDER_AT = 0.75


def _release_manager_emails() -> list[str]:
    from apps.accounts.models import User

    return sorted(set(User.objects.filter(groups__name="release_manager", is_active=True).exclude(email="")
                      .values_list("email", flat=True)))


def approval_reminders_send(*, actor, now=None) -> dict:
    now = now or timezone.now()
    sent = {"reminders": 0, "escalations": 0}
    stages = OpenStage.objects.select_related("change", "change__service", "change__change_type", "stage")
    for open_stage in stages.filter(escalated_at__isnull=True):
        change, stage = open_stage.change, open_stage.stage
        sla = open_stage.due_at - open_stage.opened_at
        breached = now >= open_stage.due_at
        near = now >= open_stage.opened_at + sla * REMINDER_AT
        if not (near or breached):
            continue
        kind = "escalation" if breached else "reminder"
        try:
            with transaction.atomic():
                ApprovalReminder.objects.create(change=change, stage=stage, kind=kind, sent_at=now)
                if breached:
                    open_stage.escalated_at = now
                    emails = _release_manager_emails()
                else:
                    open_stage.reminded_at = now
                    from apps.accounts.models import User

                    ids = workflow.stage_member_ids(stage, change) - workflow.sod_excluded_ids(change)
                    emails = sorted(set(User.objects.filter(pk__in=ids).exclude(email="").values_list("email", flat=True)))
                open_stage.save()
                audit_event_record(action=f"change.approval.{kind}", target=change, actor=actor,
                                   details={"stage": stage.name, "due_at": open_stage.due_at, "recipients": len(emails)})
                transaction.on_commit(lambda c=change, s=stage.name, e=emails, b=breached:
                                      notifications.sla_reminder(c, s, e, escalation=b))
                notifications.chat_approval_reminder(change, stage.name, escalation=breached)
        except IntegrityError:
            continue  # already sent: idempotent
        sent["escalations" if breached else "reminders"] += 1
    return sent
