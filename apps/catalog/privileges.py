"""Who may exercise a privilege on a service. The one question changes (approve) and delivery
(deploy) ask; the answer comes from django-guardian object permissions on the Service, which
apps.access_reviews derives from access grants (the single source of truth).

Non-production environments are not gated by privileges: anyone the workflow allows may act."""

from __future__ import annotations

DEPLOYER = "deployer"
APPROVER = "approver"
SERVICE_ADMIN = "service_admin"

PERMISSION_FOR = {
    DEPLOYER: "catalog.deploy_service",
    APPROVER: "catalog.approve_service_changes",
    SERVICE_ADMIN: "catalog.administer_service",
}
PRIVILEGES = list(PERMISSION_FOR)


def holds_privilege(user, privilege: str, service, environment) -> bool:
    if environment is not None and not environment.is_production:
        return True
    if not getattr(user, "is_active", False):
        return False
    # The user's own object permissions only: superusers are not exempt (guardian's checker
    # would let them through), because production privileges are reviewed for everyone.
    from guardian.shortcuts import get_user_perms

    return PERMISSION_FOR[privilege].split(".", 1)[1] in get_user_perms(user, service)
