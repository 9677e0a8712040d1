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



def privilege_held_q(user_id: int, privilege: str, *, service_ref: str = "service_id"):
    """`holds_privilege` as a filter for querysets whose rows name a service in `service_ref` (the
    approval queue asks it of every row at once): the holder's own object permissions, active
    holders only. Non-production environments are the caller's to exempt, as in holds_privilege."""
    from django.db.models import CharField, Exists, OuterRef
    from django.db.models.functions import Cast
    from guardian.models import UserObjectPermission

    app_label, codename = PERMISSION_FOR[privilege].split(".", 1)
    return Exists(UserObjectPermission.objects.filter(
        user_id=user_id, user__is_active=True, permission__codename=codename,
        permission__content_type__app_label=app_label, content_type__app_label=app_label,
        content_type__model="service", object_pk=Cast(OuterRef(service_ref), CharField())))
