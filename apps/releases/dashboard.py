"""Home panel for release managers (issue #16): releases under way — scope locked or in
progress — and the next one still being planned. Two queries."""

from __future__ import annotations

from django.db.models import Count

from apps.accounts.roles import RELEASE_MANAGER

from .models import Release, ReleaseState


def panels(request) -> list[dict]:
    if not request.user.has_role(RELEASE_MANAGER):
        return []
    under_way = list(Release.objects.filter(state__in=[ReleaseState.SCOPE_LOCKED, ReleaseState.IN_PROGRESS])
                     .select_related("train").annotate(service_count=Count("services"))
                     .order_by("planned_start", "pk")[:5])
    planning = list(Release.objects.filter(state=ReleaseState.PLANNING).select_related("train")
                    .order_by("planned_start", "pk")[:3])
    return [{"title": "Releases in progress", "template": "releases/panels/in_progress.html", "order": 15,
             "data": {"releases": under_way, "planning": planning}}]
