"""Home dashboard: my open review items (two queries at most)."""

from __future__ import annotations

from .permissions import can_manage_access
from .selectors import my_open_item_count


def panels(request) -> list[dict]:
    user = request.user
    if user.is_service_account:
        return []
    counts = my_open_item_count(user)
    if not counts["n"] and not can_manage_access(user):
        return []
    from .models import ReviewItem

    soonest = (ReviewItem.objects.filter(reviewer=user, decision="", campaign__status="open")
               .select_related("campaign").order_by("campaign__due_date").first()) if counts["n"] else None
    return [{"title": "My open review items", "template": "access_reviews/partials/dashboard_panel.html",
             "data": {"count": counts["n"], "campaigns": counts["campaigns"],
                      "due": soonest.campaign.due_date if soonest else None,
                      "is_admin": can_manage_access(user)}, "order": 30}]
