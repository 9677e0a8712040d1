"""The service page: who holds production privileges on this service (one query)."""

from __future__ import annotations

from .models import AccessGrant
from .permissions import can_manage_access


def sections(request, service) -> list[dict]:
    grants = list(AccessGrant.objects.active().production().filter(service=service)
                  .select_related("user", "environment").order_by("privilege", "user__username")[:200])
    return [{"title": "Production privileges", "template": "access_reviews/partials/service_grants.html",
             "data": {"grants": grants, "service": service, "can_manage": can_manage_access(request.user)},
             "order": 70}]
