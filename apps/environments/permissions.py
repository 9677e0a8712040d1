"""Who sees and reports what about environments. Every portal member reads provisioning and
migration records (like delivery's records: not secret inside the company, sampled by auditors).
Reporting is for tokens with `delivery:write` (pipelines, release managers; checked by the API
scope), and, where a service's production is concerned, for holders of the deployer privilege on
that service, the same rule as recording a deployment (apps.catalog.privileges)."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member
from apps.catalog.models import Environment
from apps.catalog.privileges import DEPLOYER, holds_privilege


def can_see_environments(user) -> bool:
    return is_portal_member(user)


def can_report(user, *, environment: Environment, service=None) -> bool:
    """May `user` report what ran in `environment` (an IaC run; a service's migrations)? The one
    check for both: a portal member, and in production for a service, its deployer."""
    if not is_portal_member(user):
        return False
    if service is None:
        return True
    return holds_privilege(user, DEPLOYER, service, environment)


def get_environment_for_user(user, slug: str) -> Environment:
    environment = Environment.objects.filter(slug=slug).first() if can_see_environments(user) else None
    if environment is None:
        raise Http404("No such environment.")
    return environment


def get_provision_for_user(user, pk: int):
    from . import selectors

    provision = selectors.provision_detail(pk) if can_see_environments(user) else None
    if provision is None:
        raise Http404("No such provisioning record.")
    return provision
