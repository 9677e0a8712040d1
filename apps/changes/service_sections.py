"""The service page shows the service's upcoming and recent changes."""

from __future__ import annotations

from django.utils import timezone

from .models import ChangeRequest


def sections(request, service) -> list[dict]:
    now = timezone.now()
    base = ChangeRequest.objects.filter(service=service).select_related("environment", "change_type")
    upcoming = list(base.filter(planned_start__gte=now).exclude(state__in=["cancelled", "rejected", "closed"])
                    .order_by("planned_start")[:8])
    recent = list(base.filter(planned_start__lt=now).order_by("-planned_start")[:8])
    return [{"title": "Changes", "template": "changes/sections/service_changes.html", "order": 20,
             "data": {"upcoming": upcoming, "recent": recent}}]
