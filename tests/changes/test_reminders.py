"""SLA reminders go to the stage's approvers once; a breach escalates to release managers once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.changes.models import OpenStage
from apps.changes.tasks import approval_reminders_send


def test_reminder_then_escalation_each_once(make_type, make_change, approver, release_manager, mailoutbox,
                                            django_capture_on_commit_callbacks):
    change = make_change(make_type("slow", [{"name": "Tech", "group": "approver", "sla_hours": 4}]), submit=True)
    stage = OpenStage.objects.get(change=change)
    mailoutbox.clear()
    assert approval_reminders_send.delay().get() == {"reminders": 0, "escalations": 0}
    OpenStage.objects.filter(pk=stage.pk).update(opened_at=timezone.now() - timedelta(hours=3, minutes=30),
                                                 due_at=timezone.now() + timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert approval_reminders_send.delay().get() == {"reminders": 1, "escalations": 0}
        assert approval_reminders_send.delay().get() == {"reminders": 0, "escalations": 0}
    assert [m.to for m in mailoutbox] == [["adam@example.test"]]
    OpenStage.objects.filter(pk=stage.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert approval_reminders_send.delay().get() == {"reminders": 0, "escalations": 1}
        assert approval_reminders_send.delay().get() == {"reminders": 0, "escalations": 0}
    assert mailoutbox[-1].to == ["remy@example.test"] and "Escalation" in mailoutbox[-1].subject
