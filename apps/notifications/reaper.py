"""Chat messages queued while the task queue was unavailable are not lost.

`chat_notify` queues a ChatDelivery row in the caller's transaction and hands it to Celery on
commit. When the broker is down at that moment (or loses the message with a worker), the row
stays queued and nothing would ever send it. This beat job (every five minutes) finds the rows
still queued with no sign of life for CHAT_DELIVERY_REQUEUE_AFTER_MINUTES (never tried) or that
plus Celery's longest backoff (tried, so maybe waiting for a retry), and hands each to the
workers again, CHAT_DELIVERY_MAX_REQUEUES times at most; after that the row is failed with the
reason, shown on the team's notifications page, with the same audit event as any failed
delivery. Each row is locked (skipping one a worker is posting right now) and moved in its own
transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.reaper import locked_stuck_rows
from apps.audit.services import audit_event_record

from .models import ChatDelivery
from .services import chat_deliveries_hand_over

REQUEUED = "No worker took it for {minutes} minutes: handed to the workers again (re-send {n} of {limit})."
GAVE_UP = ("Not sent: no worker took it after {limit} re-sends (the task queue or the workers are unavailable). "
           "Check the workers; later messages are sent as usual.")


def stale_deliveries(now: datetime) -> QuerySet[ChatDelivery]:
    quiet = timedelta(minutes=settings.CHAT_DELIVERY_REQUEUE_AFTER_MINUTES)
    # A row that was tried may be waiting out Celery's backoff before its next attempt.
    retrying = quiet + timedelta(seconds=settings.CHAT_WEBHOOK_BACKOFF_MAX_SECONDS
                                 + settings.CHAT_WEBHOOK_TIMEOUT_SECONDS)
    return (ChatDelivery.objects.filter(status=ChatDelivery.Status.QUEUED, created_at__lt=now - quiet)
            .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=now - quiet))
            .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=now - retrying))
            .order_by("pk"))


def chat_deliveries_requeue(*, actor) -> dict[str, int]:
    resolved = resolve_actor(actor)
    now = timezone.now()
    limit = settings.CHAT_DELIVERY_MAX_REQUEUES
    requeued = failed = 0
    for row in locked_stuck_rows(stale_deliveries(now)):
        if row.requeues >= limit:
            error = GAVE_UP.format(limit=limit)
            ChatDelivery.objects.filter(pk=row.pk).update(status=ChatDelivery.Status.FAILED, finished_at=now,
                                                          last_error=error[:300])
            channel = row.channel
            audit_event_record(action="notifications.delivery_failed", target=row, actor=resolved, details={
                "team": channel.team.slug, "channel": channel.name, "event": row.event, "target": row.target_repr,
                "attempts": row.attempts, "requeues": row.requeues, "error": error})
            failed += 1
            continue
        row.requeues += 1
        row.requeued_at = now
        fields = ["requeues", "requeued_at"]
        if not row.attempts:
            row.last_error = REQUEUED.format(minutes=settings.CHAT_DELIVERY_REQUEUE_AFTER_MINUTES, n=row.requeues,
                                             limit=limit)[:300]
            fields.append("last_error")
        row.save(update_fields=fields)
        transaction.on_commit(lambda pk=row.pk: chat_deliveries_hand_over([pk]))
        requeued += 1
    return {"requeued": requeued, "failed": failed}
