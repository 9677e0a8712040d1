"""Who may see and change incidents, used by both the HTML views and the API.

Any portal member reads incidents (an incident is organisation-wide news). Creating and
updating needs the requester or release manager role, membership of the service's owner team,
or a service account (whose token must then carry `incidents:write`). Outsiders get nothing:
the views and the API refuse them before any of this runs."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts.permissions import is_portal_member

from .models import Incident

WRITE_ROLES = ("requester", "release_manager")


def incidents_visible_to(user) -> QuerySet[Incident]:
    if not is_portal_member(user):
        return Incident.objects.none()
    return Incident.objects.all()


def get_incident_for_user(user, pk, *, queryset: QuerySet[Incident] | None = None) -> Incident:
    """The incident if the user may see it, else 404 (never a 403 that confirms it exists)."""
    qs = queryset if queryset is not None else incidents_visible_to(user)
    if not is_portal_member(user):
        qs = qs.none()
    return get_object_or_404(qs, pk=pk)


def _team_ids(user) -> set[int]:
    if not hasattr(user, "_incident_team_ids"):
        user._incident_team_ids = set(user.memberships.values_list("team_id", flat=True))
    return user._incident_team_ids


def can_write_for_service(user, service) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_superuser or user.is_service_account or user.has_role(*WRITE_ROLES):
        return True
    return service.owner_team_id in _team_ids(user)


def can_update(user, incident: Incident) -> bool:
    return can_write_for_service(user, incident.service)


def can_create_any(user) -> bool:
    """Whether to offer the "new incident" form at all (the service is checked on submit)."""
    if not is_portal_member(user):
        return False
    return user.is_superuser or user.is_service_account or user.has_role(*WRITE_ROLES) or bool(_team_ids(user))


def can_manage_runbook(user, runbook) -> bool:
    if not is_portal_member(user):
        return False
    return (user.is_superuser or user.pk == runbook.owner_id or user.has_role("release_manager")
            or runbook.service.owner_team_id in _team_ids(user))
