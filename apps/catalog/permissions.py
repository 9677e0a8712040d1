"""Access to catalog objects: every portal member reads the catalog; editing a service needs
the service_admin privilege on it, team leadership of its owner team, or superuser."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member

from .models import Service
from .privileges import PERMISSION_FOR, SERVICE_ADMIN


def get_service_for_user(user, slug: str) -> Service:
    if not is_portal_member(user):
        raise Http404
    service = Service.objects.select_related("owner_team", "owner_team__lead").filter(slug=slug).first()
    if service is None:
        raise Http404
    return service


def can_edit_service(user, service: Service) -> bool:
    if not is_portal_member(user) or user.is_service_account and not user.has_perm(PERMISSION_FOR[SERVICE_ADMIN], service):
        return False
    if user.is_superuser or service.owner_team.lead_id == user.pk:
        return True
    return user.has_perm(PERMISSION_FOR[SERVICE_ADMIN], service)
