from __future__ import annotations

from django.db.models import QuerySet

from .models import Environment, Service


def services_list(*, team: str | None = None, tier: int | None = None, scope: str | None = None,
                  search: str | None = None) -> QuerySet[Service]:
    qs = Service.objects.select_related("owner_team").order_by("name")
    if team:
        qs = qs.filter(owner_team__slug=team)
    if tier:
        qs = qs.filter(tier=tier)
    if scope:
        # JSON containment differs by database; slugs never contain quotes, so a text match is exact.
        qs = qs.filter(compliance_scopes__icontains=f'"{scope}"')
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(slug__icontains=search)
    return qs


def environments_list() -> QuerySet[Environment]:
    return Environment.objects.order_by("order")
