"""Campaign closes whose worker died are not left "closing" forever.

A large campaign closes in a Celery task (services.campaign_close_request). The close is one
transaction, so a worker killed half-way applied nothing; the task is acknowledged late and
rejected when its worker is lost, so a killed child process gets it redelivered. A node that
vanished only gets it back after the broker's visibility timeout (an hour), and a task that
keeps dying never finishes: this beat job closes both gaps. A close still "closing"
STUCK_WORK_TIMEOUT_MINUTES after its attempt was dispatched (and whose row no worker holds
locked right now) is dispatched again, acting for the admin who asked, up to CLOSE_ATTEMPTS
attempts; after the last one the campaign is opened again with the reason, so the admin sees
it on the campaign page and may close it again. Each move is one guarded update with its
history row and one audit event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.reaper import locked_stuck_rows, stuck_timeout
from apps.audit.services import audit_event_record

from .models import ReviewCampaign

CLOSE_ATTEMPTS = 3
RETRY_REASON = ("Worker lost: the worker closing this campaign stopped before finishing (restarted or lost). "
                "Nothing was applied; retrying (attempt {attempt} of {limit}).")
FAILED_REASON = ("Closing failed: worker lost. The worker stopped before finishing {limit} times; nothing was "
                 "applied and the campaign is open again. Close it again, or ask the operators to check the workers.")


def campaign_closes_reap(*, actor) -> dict[str, int]:
    from .tasks import close_campaign

    resolved = resolve_actor(actor)
    now = timezone.now()
    cutoff = now - stuck_timeout()
    retried = failed = 0
    stuck = ReviewCampaign.objects.filter(status=ReviewCampaign.Status.CLOSING, close_requested_at__lt=cutoff)
    for locked in locked_stuck_rows(stuck):
        locked._history_user = resolved.user
        if locked.close_attempts < CLOSE_ATTEMPTS:
            locked.close_attempts += 1
            locked.close_requested_at = now
            locked.close_error = RETRY_REASON.format(attempt=locked.close_attempts, limit=CLOSE_ATTEMPTS)
            locked.save(update_fields=["close_attempts", "close_requested_at", "close_error"])
            audit_event_record(action="access_review.campaign_close_retried", target=locked, actor=resolved,
                               details={"error": "worker lost", "attempt": locked.close_attempts})
            campaign_id, user_id = locked.pk, locked.close_requested_by_id
            transaction.on_commit(lambda c=campaign_id, u=user_id: close_campaign.delay(c, u))
            retried += 1
        else:
            locked.status = ReviewCampaign.Status.OPEN
            locked.close_requested_at = None
            locked.close_error = FAILED_REASON.format(limit=CLOSE_ATTEMPTS)
            locked.save(update_fields=["status", "close_requested_at", "close_error"])
            audit_event_record(action="access_review.campaign_close_failed", target=locked, actor=resolved,
                               details={"error": "worker lost", "attempts": locked.close_attempts})
            failed += 1
    return {"retried": retried, "failed": failed}
