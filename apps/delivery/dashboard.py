"""Home panels from delivery (per role, issue #16): release managers see unauthorised production
deployments and what is deploying now; requesters see their own deployments (of the changes
they asked for or implement, or that they started)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.accounts.roles import RELEASE_MANAGER, REQUESTER
from apps.changes.models import ChangeRequest

from . import selectors
from .models import Deployment
from .permissions import can_reconcile


def panels(request) -> list[dict]:
    user = request.user
    out: list[dict] = []
    if user.has_role(RELEASE_MANAGER):
        since = timezone.now() - timedelta(days=30)
        unauthorized = list(selectors.deployments_list().filter(is_unauthorized=True, started_at__gte=since)
                            .order_by("-started_at")[:5])
        unauthorized_count = Deployment.objects.filter(is_unauthorized=True, started_at__gte=since).count()
        out += [
            {"title": "Unauthorised production deployments (30 days)", "template": "delivery/panels/unauthorized.html",
             "order": 30, "data": {"deployments": unauthorized, "count": unauthorized_count,
                                   "can_reconcile": can_reconcile(user)}},
            {"title": "Deployments in progress", "template": "delivery/panels/in_progress.html", "order": 31,
             "data": {"deployments": list(selectors.in_progress(limit=5))}},
        ]
    if user.has_role(REQUESTER):
        my_changes = ChangeRequest.objects.filter(Q(requester=user) | Q(implementer=user)).values("pk")
        mine = list(selectors.deployments_list().filter(Q(change__in=my_changes) | Q(created_by=user))
                    .order_by("-started_at")[:5])
        out.append({"title": "My deployments", "template": "delivery/panels/mine.html", "order": 6,
                    "data": {"deployments": mine}})
    return out
