"""Home dashboard panels: unauthorised production deployments and deployments in progress."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import selectors
from .models import Deployment
from .permissions import can_reconcile


def panels(request) -> list[dict]:
    since = timezone.now() - timedelta(days=30)
    unauthorized = list(selectors.deployments_list().filter(is_unauthorized=True, started_at__gte=since)
                        .order_by("-started_at")[:5])
    running = list(selectors.in_progress(limit=5))
    unauthorized_count = Deployment.objects.filter(is_unauthorized=True, started_at__gte=since).count()
    return [
        {"title": "Unauthorised production deployments (30 days)", "template": "delivery/panels/unauthorized.html",
         "order": 30, "data": {"deployments": unauthorized, "count": unauthorized_count,
                  "can_reconcile": can_reconcile(request.user)}},
        {"title": "Deployments in progress", "template": "delivery/panels/in_progress.html", "order": 31,
         "data": {"deployments": running}},
    ]
