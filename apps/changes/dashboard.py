"""Dashboard panels: what waits for me, open emergency overrides, overdue post-mortems.
Each panel costs a fixed, small number of queries."""

from __future__ import annotations

from django.utils import timezone

from .selectors import cab_queue_for, open_emergency_overrides, overdue_post_mortems


def panels(request) -> list[dict]:
    user = request.user
    result = []
    if user.has_role("approver", "cab_member", "release_manager") or user.memberships.exists():
        qs, counts = cab_queue_for(user)
        result.append({"title": "Waiting for my decision", "template": "changes/panels/queue.html", "order": 10,
                       "data": {"counts": counts, "changes": list(qs[:5])}})
    overrides = list(open_emergency_overrides()[:5])
    if overrides or user.has_role("release_manager", "cab_member"):
        result.append({"title": "Open emergency overrides", "template": "changes/panels/overrides.html", "order": 11,
                       "data": {"overrides": overrides, "now": timezone.now()}})
    overdue = list(overdue_post_mortems()[:5])
    if overdue:
        result.append({"title": "Overdue post-mortems", "template": "changes/panels/post_mortems.html", "order": 12,
                       "data": {"changes": overdue}})
    return result
