"""Dashboard panel: open configuration drift across the organisation (gate-blocking first).
Two queries whatever the data."""

from __future__ import annotations

from apps.accounts.permissions import is_portal_member

from . import config_selectors as selectors
from .models.config import DriftFinding


def panels(request) -> list[dict]:
    if not is_portal_member(request.user):
        return []
    counts = selectors.open_drift_counts()
    findings = list(DriftFinding.objects.filter(status=DriftFinding.Status.OPEN)
                    .select_related("service", "environment").order_by("-must_match", "-last_seen", "-pk")[:6])
    return [{"title": "Configuration drift", "template": "environments/config/panels/drift.html", "order": 32,
             "data": {"counts": counts, "findings": findings}}]
