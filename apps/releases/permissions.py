"""Who may see and plan releases, used by both the pages and the API.

Every portal member reads trains and releases (a release is organisation-wide news). Release
managers create trains and releases and move them; a train's owners plan its releases too. A
scope exception is signed by holders of the train's sign-off roles (services.signoff_refusal).
A service's dependencies are declared by whoever may edit the service (catalog), its owner
team's members, or a release manager. Outsiders get nothing."""

from __future__ import annotations

from apps.accounts.permissions import is_portal_member
from apps.accounts.roles import RELEASE_MANAGER
from apps.catalog.permissions import can_edit_service


def _person(user) -> bool:
    return is_portal_member(user) and not user.is_service_account


def can_manage_trains(user) -> bool:
    return _person(user) and user.has_role(RELEASE_MANAGER)


def can_plan_release(user, train) -> bool:
    if not _person(user):
        return False
    if user.has_role(RELEASE_MANAGER):
        return True
    return any(owner.pk == user.pk for owner in train.owners.all())


def can_request_exception(user) -> bool:
    """Anyone who plans changes may ask; the sign-offs decide."""
    return _person(user)


def _team_ids(user) -> set[int]:
    if not hasattr(user, "_release_team_ids"):
        user._release_team_ids = set(user.memberships.values_list("team_id", flat=True))
    return user._release_team_ids


def can_set_dependencies(user, service) -> bool:
    if not _person(user):
        return False
    if user.has_role(RELEASE_MANAGER) or service.owner_team_id in _team_ids(user):
        return True
    return can_edit_service(user, service)


def can_justify_off_cadence(user, change) -> bool:
    if not _person(user):
        return False
    return user.pk in (change.requester_id, change.implementer_id) or user.has_role(RELEASE_MANAGER)
