"""The nightly housekeeping task removes operational data past its time, and nothing younger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import IdempotencyRecord, LoginAttempt, LoginThrottle, PortalSession
from apps.accounts.tasks import purge_housekeeping_records

pytestmark = pytest.mark.django_db


def test_housekeeping_removes_expired_sessions_old_keys_and_attempts(clock, requester, settings):
    clock("2026-12-03 03:15")
    now = timezone.now()
    settings.IDEMPOTENCY_TTL_HOURS = 24
    PortalSession.objects.create(session_key="expired", session_data="x", user=requester,
                                 expire_date=now - timedelta(minutes=1))
    PortalSession.objects.create(session_key="current", session_data="x", user=requester,
                                 expire_date=now + timedelta(days=1))
    old_key = IdempotencyRecord.objects.create(user=requester, key="old", fingerprint="f", method="POST", path="/x")
    IdempotencyRecord.objects.filter(pk=old_key.pk).update(created_at=now - timedelta(hours=25))
    IdempotencyRecord.objects.create(user=requester, key="new", fingerprint="f", method="POST", path="/x")
    LoginAttempt.objects.create(username="rita", ip="10.0.0.1", succeeded=False, at=now - timedelta(days=31))
    LoginAttempt.objects.create(username="rita", ip="10.0.0.1", succeeded=False, at=now - timedelta(days=1))
    LoginThrottle.objects.create(username="old", window_started_at=now - timedelta(days=31))

    assert purge_housekeeping_records() == 4

    assert list(PortalSession.objects.values_list("session_key", flat=True)) == ["current"]
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert LoginAttempt.objects.count() == 1 and not LoginThrottle.objects.exists()
