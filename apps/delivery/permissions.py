"""Who sees and does what in delivery. Every portal member may read delivery records (they are
not secret inside the company and auditors sample them); writing is for tokens with the
`delivery:write` scope (pipelines, release managers), checked globally by the API."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member

from . import selectors


def can_see_delivery(user) -> bool:
    return is_portal_member(user)


def get_artifact_for_user(user, pk: int):
    artifact = selectors.artifact_page(pk) if can_see_delivery(user) else None
    if artifact is None:
        raise Http404("No such artifact.")
    return artifact


def get_deployment_for_user(user, pk: int):
    deployment = selectors.deployment_detail(pk) if can_see_delivery(user) else None
    if deployment is None:
        raise Http404("No such deployment.")
    return deployment


def can_register_key(user, team) -> bool:
    """Team members register their team's keys; a service account those of the team that owns it."""
    if user.is_superuser:
        return True
    if user.is_service_account:
        return user.owner_team_id == team.pk
    return user.memberships.filter(team=team).exists()


def can_reconcile(user) -> bool:
    return user.has_role("auditor", "release_manager", "executive")
