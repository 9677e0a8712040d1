"""Who may see and change configuration baselines, observations and drift findings; used by the
API and the pages alike.

- Reading: any portal member. Nothing here is secret (secrets are references or masked
  fingerprints), and drift is organisation-wide news like incidents. Outsiders get nothing.
- Proposing a baseline: the change's requester or implementer (so the segregation of duties of
  the change, which bars them from approving it, also bars them from approving their own
  baseline), or a pipeline's service account of the service's owner team acting for the change.
- Posting observations: a service account, a release manager, or a member of the service's
  owner team.
- Resolving a drift finding: a person (not a pipeline: accepting drift is a decision) who is a
  release manager or a member of the service's owner team, or a superuser.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts.permissions import is_portal_member

from .models.config import ConfigBaseline, DriftFinding


def _team_ids(user) -> set[int]:
    if not hasattr(user, "_config_team_ids"):
        user._config_team_ids = set(user.memberships.values_list("team_id", flat=True))
    return user._config_team_ids


def can_read_config(user) -> bool:
    return is_portal_member(user)


def findings_visible_to(user) -> QuerySet[DriftFinding]:
    if not can_read_config(user):
        return DriftFinding.objects.none()
    return DriftFinding.objects.all()


def baselines_visible_to(user) -> QuerySet[ConfigBaseline]:
    if not can_read_config(user):
        return ConfigBaseline.objects.none()
    return ConfigBaseline.objects.all()


def get_finding_for_user(user, pk, *, queryset: QuerySet[DriftFinding] | None = None) -> DriftFinding:
    """The finding if the user may see it, else 404."""
    qs = queryset if queryset is not None else findings_visible_to(user)
    if not can_read_config(user):
        qs = qs.none()
    return get_object_or_404(qs, pk=pk)


def can_propose_baseline(user, change) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_service_account:
        return user.owner_team_id is not None and user.owner_team_id == change.service.owner_team_id
    return user.pk in (change.requester_id, change.implementer_id)


def can_observe(user, service) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_superuser or user.is_service_account or user.has_role("release_manager"):
        return True
    return service.owner_team_id in _team_ids(user)


def can_resolve_drift(user, finding: DriftFinding) -> bool:
    if not is_portal_member(user) or user.is_service_account:
        return False
    if user.is_superuser or user.has_role("release_manager"):
        return True
    return finding.service.owner_team_id in _team_ids(user)
