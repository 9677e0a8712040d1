from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.audit.actor import Actor, acting_as

from .models import ApiToken, IdempotencyRecord, LoginAttempt, LoginThrottle, PortalSession
from .services import api_token_revoke


@shared_task(acks_late=True)
def revoke_expired_tokens() -> int:
    """Mark expired tokens revoked, so lists and access reviews show them as gone. Idempotent."""
    actor = Actor.for_task("accounts.revoke_expired_tokens")
    count = 0
    with acting_as(actor):
        for token in ApiToken.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now()):
            api_token_revoke(token=token, actor=actor, reason="expired")
            count += 1
    return count


@shared_task(acks_late=True)
def purge_housekeeping_records() -> int:
    """Old idempotency keys, sign-in attempts and expired browser sessions are operational
    data, not records (what `manage.py clearsessions` does, on the beat)."""
    now = timezone.now()
    expired_sessions, _ = PortalSession.objects.filter(expire_date__lt=now).delete()
    removed, _ = IdempotencyRecord.objects.filter(created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)).delete()
    old_logins, _ = LoginAttempt.objects.filter(at__lt=now - timedelta(days=30)).delete()
    old_throttles, _ = LoginThrottle.objects.filter(window_started_at__lt=now - timedelta(days=30)).delete()
    return removed + old_logins + old_throttles + expired_sessions
