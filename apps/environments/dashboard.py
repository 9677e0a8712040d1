"""Home dashboard panel: unauthorised production provisioning runs (30 days), beside delivery's
unauthorised deployments."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import selectors
from .models import Provision


def panels(request) -> list[dict]:
    since = timezone.now() - timedelta(days=30)
    flagged = Provision.objects.filter(is_unauthorized=True, created_at__gte=since)
    return [{"title": "Unauthorised provisioning runs (30 days)", "template": "environments/panels/unauthorized.html",
             "order": 32, "data": {"count": flagged.count(),
                                   "provisions": list(selectors.provisions_list().filter(pk__in=flagged.values("pk"))[:5])}}]
