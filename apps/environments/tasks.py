"""Thin Celery tasks: load by id, call the function, safe to retry."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def notify_unauthorized_provision(provision_id: int) -> int:
    from .notifications import unauthorized_provision

    return unauthorized_provision(provision_id)
