"""Chat tasks: thin, idempotent (only a queued delivery is posted), safe to retry (acks_late)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.audit.actor import Actor, acting_as

from .webhooks import ChatUnavailable


@shared_task(bind=True, acks_late=True, name="notifications.deliver_chat_message",
             autoretry_for=(ChatUnavailable,), retry_backoff=True,
             retry_backoff_max=settings.CHAT_WEBHOOK_BACKOFF_MAX_SECONDS, retry_jitter=True,
             max_retries=settings.CHAT_WEBHOOK_MAX_RETRIES)
def deliver_chat_message(self, delivery_id: int) -> str:
    """Post one queued chat message. Network errors, 5xx and 429 raise ChatUnavailable, which
    Celery retries with exponential backoff; the last attempt records the failure instead."""
    from .services import chat_delivery_attempt

    with acting_as(Actor.for_task("notifications.deliver_chat_message")):
        return chat_delivery_attempt(delivery_id=delivery_id, last=self.request.retries >= self.max_retries)


@shared_task(acks_late=True, name="notifications.requeue_stale_deliveries")
def requeue_stale_deliveries() -> dict[str, int]:
    """Every five minutes: messages queued while the task queue was unavailable are handed to
    the workers again, or failed with the reason after the last re-send (apps.notifications.reaper)."""
    from .reaper import chat_deliveries_requeue

    with acting_as(Actor.for_task("notifications.requeue_stale_deliveries")) as actor:
        return chat_deliveries_requeue(actor=actor)
