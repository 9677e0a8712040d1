"""Who reads and who feeds a deployment's validation, and who edits health policies.

- Every portal member reads verdicts, samples and policies (delivery records are not secret
  inside the company); an outsider gets 404.
- Samples and check results for a deployment come from the pipelines of the team that owns
  the service: a service account of that team, a member of that team, or a superuser. Others
  get 403 `not_service_team`. (The API also demands the `delivery:write` scope.)
- Health policies: the owning team (its members, its lead, its service accounts) edits
  non-production policies. A production policy is governed like the gate's environment
  policies, which only administrators edit (apps/delivery/admin.py EnvironmentPolicyAdmin): a
  person with the release_manager role or a superuser, never a service account — a pipeline
  must not loosen the rules that judge its own deployments. Every edit is audited with history.
"""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member
from releaseportal.errors import NotAllowed

from . import selectors


def _in_owning_team(user, service) -> bool:
    if user.is_superuser:
        return True
    if user.is_service_account:
        return user.owner_team_id == service.owner_team_id
    if service.owner_team.lead_id == user.pk:
        return True
    return user.memberships.filter(team_id=service.owner_team_id).exists()


def get_deployment_for_user(user, pk: int, *, write: bool = False):
    """The deployment (service, environment and change loaded) if `user` may read it — and, with
    `write`, post samples and checks for it."""
    deployment = selectors.deployment_for_validation(pk) if is_portal_member(user) else None
    if deployment is None:
        raise Http404("No such deployment.")
    if write and not _in_owning_team(user, deployment.service):
        raise NotAllowed(f"Only the team that owns {deployment.service.slug} (its pipelines) reports on its "
                         "deployments.", code="not_service_team")
    return deployment


def can_edit_health_policy(user, service, environment) -> bool:
    if environment.is_production:
        return user.is_superuser or (not user.is_service_account and user.has_role("release_manager"))
    return _in_owning_team(user, service) or user.has_role("release_manager")


def check_edit_health_policy(user, service, environment) -> None:
    if can_edit_health_policy(user, service, environment):
        return
    if environment.is_production:
        raise NotAllowed("A production health policy is edited by a release manager (as the gate's environment "
                         "policies are), not by a pipeline or the service team.", code="production_policy_governed")
    raise NotAllowed(f"Only the team that owns {service.slug} edits its health policies.", code="not_service_team")


def check_register_webhook(user, service) -> None:
    """A rollback webhook is registered by the owning team (its pipelines) for its own service."""
    if not _in_owning_team(user, service):
        raise NotAllowed(f"Only the team that owns {service.slug} registers its rollback webhook.",
                         code="not_service_team")
