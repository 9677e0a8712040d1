"""Validation tasks: thin, idempotent, safe to retry (acks_late)."""

from __future__ import annotations

from celery import shared_task

from apps.audit.actor import Actor, acting_as


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_rollback_webhook(self, decision_id: int) -> str:
    """Call the pipeline's rollback webhook; a failure is retried with exponential backoff."""
    from . import rollback

    attempt = self.request.retries + 1
    limit = rollback.WEBHOOK_MAX_ATTEMPTS
    with acting_as(Actor.for_task("validation.deliver_rollback_webhook")) as actor:
        outcome = rollback.webhook_attempt(decision_id=decision_id, attempt=attempt, actor=actor,
                                           last=attempt >= limit)
    if outcome == "retry":
        raise self.retry(countdown=rollback.backoff_seconds(self.request.retries), max_retries=limit - 1)
    return outcome


@shared_task(acks_late=True)
def notify_rollback_decision(decision_id: int) -> int:
    from .rollback import rollback_notify

    with acting_as(Actor.for_task("validation.notify_rollback_decision")):
        return rollback_notify(decision_id=decision_id)


@shared_task(acks_late=True)
def judge_open_deployments() -> int:
    """Time moves verdicts (a window ends, a smoke deadline passes): judge the pending ones."""
    from .services import open_deployments_judge

    with acting_as(Actor.for_task("validation.judge_open_deployments")) as actor:
        return open_deployments_judge(actor=actor)
