"""A pack whose worker died is failed with a reason its requester sees, within minutes; one
stuck in the queue is dispatched again; a pack still working is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent, EvidencePack
from apps.audit.reaper import STUCK_REASON
from apps.audit.tasks import reap_stuck_evidence_packs

pytestmark = pytest.mark.django_db


def _pack(requester, status, minutes_ago, progress=0):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return EvidencePack.objects.create(scope="control_period", parameters={}, title="t", status=status,
                                       progress=progress, requested_by=requester, requested_at=at,
                                       started_at=at if status == EvidencePack.Status.RUNNING else None)


def test_stuck_packs_are_failed_with_a_reason_and_queued_ones_dispatched_again(
        requester, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.STUCK_WORK_TIMEOUT_MINUTES = 15
    dead = _pack(requester, EvidencePack.Status.RUNNING, 20, progress=26)
    alive = _pack(requester, EvidencePack.Status.RUNNING, 2, progress=40)
    lost = _pack(requester, EvidencePack.Status.QUEUED, 30)
    dispatched: list[int] = []
    monkeypatch.setattr("apps.audit.tasks.generate_evidence_pack.delay", dispatched.append)
    with django_capture_on_commit_callbacks(execute=True):
        result = reap_stuck_evidence_packs.delay().get()
    assert result == {"failed": 1, "requeued": 1}
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == EvidencePack.Status.FAILED and dead.error == STUCK_REASON and dead.finished_at
    assert alive.status == EvidencePack.Status.RUNNING
    assert dispatched == [lost.pk]
    assert AuditEvent.objects.filter(action="evidence_pack.failed", object_id=str(dead.pk)).count() == 1


def test_the_reaper_is_on_the_beat_schedule():
    from releaseportal.celery import collect_beat_schedule

    assert any(entry["task"] == "apps.audit.tasks.reap_stuck_evidence_packs"
               for entry in collect_beat_schedule().values())
