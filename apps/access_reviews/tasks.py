"""Beat and background work: thin wrappers that name themselves as the actor and call a service."""

from __future__ import annotations

from celery import shared_task

from apps.audit.actor import Actor, acting_as


@shared_task(acks_late=True)
def expire_grants() -> int:
    from .services import grants_expire_due

    with acting_as(Actor.for_task("access_reviews.expire_grants")) as actor:
        return grants_expire_due(actor=actor)


@shared_task(acks_late=True)
def open_quarterly_campaign() -> int | None:
    from .services import campaign_open_quarterly

    with acting_as(Actor.for_task("access_reviews.open_quarterly_campaign")) as actor:
        campaign, _ = campaign_open_quarterly(actor=actor)
        return campaign.pk


@shared_task(acks_late=True)
def send_reminders_and_escalate() -> dict:
    from .services import campaign_escalate_overdue, campaign_reminders_send

    with acting_as(Actor.for_task("access_reviews.send_reminders_and_escalate")) as actor:
        return {"reminders": campaign_reminders_send(actor=actor), "escalated": campaign_escalate_overdue(actor=actor)}


# A worker killed mid-close rolls the close back (one transaction) and the message is redelivered
# (acks_late, reject_on_worker_lost); a close that still does not finish is retried or failed
# with a reason by reap_stuck_campaign_closes.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def close_campaign(campaign_id: int, user_id: int | None = None) -> dict | None:
    """Apply a large campaign's outcomes, acting for the access admin who asked. Safe to retry:
    a campaign closed already is left alone."""
    from apps.accounts.models import User

    from .models import ReviewCampaign
    from .services import campaign_close

    campaign = ReviewCampaign.objects.filter(pk=campaign_id, status=ReviewCampaign.Status.CLOSING).first()
    if campaign is None:
        return None
    requester = User.objects.filter(pk=user_id).first() if user_id else None
    with acting_as(Actor.for_task("access_reviews.close_campaign", on_behalf_of=requester)) as actor:
        return campaign_close(campaign=campaign, actor=actor).counts()


# Safe to run again (one stored report per format); the report page writes a missing one on demand.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def generate_campaign_report(campaign_id: int) -> list[str]:
    from .evidence import campaign_reports_store
    from .models import ReviewCampaign

    campaign = ReviewCampaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return []
    with acting_as(Actor.for_task("access_reviews.generate_campaign_report")) as actor:
        return [r.sha256 for r in campaign_reports_store(campaign=campaign, actor=actor)]


@shared_task(acks_late=True)
def reap_stuck_campaign_closes() -> dict[str, int]:
    """Every five minutes: closes whose worker died are dispatched again, or failed with a
    reason after their last attempt (apps.access_reviews.reaper)."""
    from .reaper import campaign_closes_reap

    with acting_as(Actor.for_task("access_reviews.reap_stuck_campaign_closes")) as actor:
        return campaign_closes_reap(actor=actor)
