"""Dashboard panels: what waits for me, open emergency overrides, overdue post-mortems.
Each panel costs a fixed, small number of queries."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from .models import ChangeRequest
from .selectors import cab_queue_for, open_emergency_overrides, overdue_post_mortems
from .state_machine import OPEN_STATES


def panels(request) -> list[dict]:
    user = request.user
    result = []
    if user.has_role("approver", "cab_member", "release_manager") or user.memberships.exists():
        qs, counts = cab_queue_for(user)
        result.append({"title": "Waiting for my decision", "template": "changes/panels/queue.html", "order": 10,
                       "data": {"counts": counts, "changes": list(qs[:5])}})
    # My changes: the open ones I requested or implement (one query), with the way to all of them.
    mine = list(ChangeRequest.objects.filter(Q(requester_id=user.pk) | Q(implementer_id=user.pk),
                                             state__in=sorted(OPEN_STATES))
                .select_related("service").only("number", "title", "state", "service__name")
                .order_by("planned_start", "pk")[:5])
    if mine or user.memberships.exists():
        result.append({"title": "My changes", "template": "changes/panels/my_changes.html", "order": 9,
                       "data": {"changes": mine}})
    overrides = list(open_emergency_overrides()[:5])
    if overrides or user.has_role("release_manager", "cab_member"):
        result.append({"title": "Open emergency overrides", "template": "changes/panels/overrides.html", "order": 11,
                       "data": {"overrides": overrides, "now": timezone.now()}})
    overdue = list(overdue_post_mortems()[:5])
    if overdue:
        result.append({"title": "Overdue post-mortems", "template": "changes/panels/post_mortems.html", "order": 12,
                       "data": {"changes": overdue}})
    return result
