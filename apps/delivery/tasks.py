from __future__ import annotations

from celery import shared_task

from apps.audit.actor import Actor, acting_as


@shared_task(acks_late=True)
def process_webhook_delivery(delivery_id: int) -> str:
    """Map a stored webhook delivery onto artifacts and deployments (idempotent: done once)."""
    from .services import webhook_delivery_process

    with acting_as(Actor.for_task("delivery.process_webhook_delivery")) as actor:
        return webhook_delivery_process(delivery_id=delivery_id, actor=actor)
