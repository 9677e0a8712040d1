"""Dashboard panels: active incidents, overdue runbooks, overdue reviews and action items.
A fixed, small number of queries whatever the data. Per role (issue #16): engineers (requesters)
and release managers run incidents and their follow-up; only release managers chase runbook
tests; auditors and executives see none of these."""

from __future__ import annotations

from django.utils import timezone

from apps.accounts.roles import RELEASE_MANAGER, REQUESTER

from .models import ActionItem, Incident, Review
from .runbooks import runbooks_list
from .state_machine import ACTIVE


def panels(request) -> list[dict]:
    user = request.user
    if not user.has_role(REQUESTER, RELEASE_MANAGER):
        return []
    today = timezone.localdate()
    active = list(Incident.objects.filter(status__in=ACTIVE).select_related("service")
                  .order_by("severity", "-started_at")[:6])
    active_count = Incident.objects.filter(status__in=ACTIVE).count() if len(active) == 6 else len(active)
    runbooks = list(runbooks_list(overdue=True, today=today)[:6]) if user.has_role(RELEASE_MANAGER) else []
    overdue_reviews = list(Review.objects.filter(status=Review.Status.DRAFT, due_date__lt=today)
                           .select_related("incident", "incident__service").order_by("due_date")[:5])
    overdue_items = list(ActionItem.objects.filter(status__in=ActionItem.OPEN_STATUSES, due_date__lt=today)
                         .select_related("owner", "review__incident").order_by("due_date")[:5])
    out = [{"title": "Active incidents", "template": "incidents/panels/active.html", "order": 15,
            "data": {"incidents": active, "count": active_count}}]
    if runbooks:
        out.append({"title": "Rollback runbooks overdue for a test", "template": "incidents/panels/runbooks.html",
                    "order": 60, "data": {"runbooks": runbooks}})
    if overdue_reviews or overdue_items:
        out.append({"title": "Overdue post-incident follow-up", "template": "incidents/panels/reviews.html",
                    "order": 55, "data": {"reviews": overdue_reviews, "items": overdue_items}})
    return out
