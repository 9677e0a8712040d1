"""Release tasks: thin, idempotent, safe to retry."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.audit.actor import Actor, acting_as

# How far back the sweep looks for releases and rollbacks without their retrospective.
RETRO_LOOKBACK = timedelta(days=14)


@shared_task(acks_late=True)
def open_missing_retrospectives() -> int:
    """Every release shipped and every production rollback gets its retrospective."""
    from .retros import retrospectives_open_missing

    actor = Actor.for_task("releases.open_missing_retrospectives")
    with acting_as(actor):
        return retrospectives_open_missing(actor=actor, since=timezone.now() - RETRO_LOOKBACK)
