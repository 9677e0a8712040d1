"""Dashboard panels: unauthorised production provisioning runs (30 days), beside delivery's
unauthorised deployments; open configuration drift across the organisation (gate-blocking
first)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.roles import RELEASE_MANAGER

from . import config_selectors, selectors
from .models import DriftFinding, Provision


def panels(request) -> list[dict]:
    # The release manager's (issue #16: the home page is per role).
    if not request.user.has_role(RELEASE_MANAGER):
        return []
    since = timezone.now() - timedelta(days=30)
    flagged = Provision.objects.filter(is_unauthorized=True, created_at__gte=since)
    findings = list(DriftFinding.objects.filter(status=DriftFinding.Status.OPEN)
                    .select_related("service", "environment").order_by("-must_match", "-last_seen", "-pk")[:6])
    return [
        {"title": "Unauthorised provisioning runs (30 days)", "template": "environments/panels/unauthorized.html",
         "order": 32, "data": {"count": flagged.count(),
                               "provisions": list(selectors.provisions_list().filter(pk__in=flagged.values("pk"))[:5])}},
        {"title": "Configuration drift", "template": "environments/config/panels/drift.html", "order": 33,
         "data": {"counts": config_selectors.open_drift_counts(), "findings": findings}},
    ]
