"""Sections on the change page (canary): for a high-risk production change, where its first-hour
log review stands: the change completes only after it is signed off (logreview.close_guard), so
the page says so and links to the deployment where a person signs it off. No query for any other
change; one otherwise."""

from __future__ import annotations

from apps.delivery.models import Deployment

from .logreview import HIGH_RISK


def sections(request, change) -> list[dict]:
    if change.risk_level not in HIGH_RISK or not change.environment.is_production:
        return []
    latest = (Deployment.objects.filter(change_id=change.pk, environment__is_production=True)
              .exclude(kind=Deployment.Kind.ROLLBACK).select_related("log_review", "log_review__signed_off_by")
              .order_by("-started_at", "-pk").first())
    review = None
    if latest is not None:
        try:
            review = latest.log_review
        except Deployment.log_review.RelatedObjectDoesNotExist:
            review = None
    return [{"title": "First-hour log review", "template": "validation/sections/change_log_review.html",
             "order": 63, "data": {"deployment": latest, "review": review}}]
