"""Who may see and act on change requests: the one gate used by HTML views and the API."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member
from releaseportal.input import control_characters, parse_id

from .models import EDITABLE_FIELDS, SCHEDULE_FIELDS, ChangeRequest


def visible_changes(user):
    """Every portal member sees every change (approvers, auditors and CAB need the whole picture);
    people outside the portal see none."""
    from .selectors import change_detail_queryset

    if not is_portal_member(user):
        return ChangeRequest.objects.none()
    return change_detail_queryset()


def get_change_for_user(user, ref: str | int) -> ChangeRequest:
    """By id or number (CHG-000123). Unknown or invisible → 404."""
    qs = visible_changes(user)
    ref = str(ref).strip()
    change = None
    if (pk := parse_id(ref)) is not None:
        change = qs.filter(pk=pk).first()
    elif ref.upper().startswith("CHG-") and not control_characters(ref):
        change = qs.filter(number=ref.upper()).first()
    if change is None:
        raise Http404("No such change request.")
    return change


def can_create_change(user) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_superuser or user.is_service_account:
        return True
    return user.has_role("requester", "approver", "release_manager", "cab_member") or user.memberships.exists()


def _is_party(user, change: ChangeRequest) -> bool:
    """The change's requester or implementer (a person or the pipeline's service account)."""
    return (is_portal_member(user) and getattr(user, "kind", "human") != "system"
            and user.pk in (change.requester_id, change.implementer_id))


def edit_scope(user, change: ChangeRequest) -> frozenset[str]:
    """The fields `user` may edit on `change`: all of them for its requester and implementer, the
    schedule (planned start and end) for a release manager, nothing for anyone else (team mates,
    approvers, admins included). Which of those the change's state still allows, and the voiding of
    approvals an edit causes, are services.change_update's."""
    if user is None or not is_portal_member(user):
        return frozenset()
    if _is_party(user, change):
        return EDITABLE_FIELDS
    if not user.is_service_account and user.has_role("release_manager"):
        return SCHEDULE_FIELDS
    return frozenset()


def can_edit(user, change: ChangeRequest) -> bool:
    """Whether to open the edit page / accept PATCH at all (edit_scope decides which fields)."""
    return bool(edit_scope(user, change))


def may_submit(user, change: ChangeRequest) -> bool:
    """Submitting is the requester's (or implementer's) act, never a team mate's."""
    return user is not None and _is_party(user, change)


def can_record_post_mortem(user, change: ChangeRequest) -> bool:
    """The people who carried out the emergency change, or a release manager."""
    if user is None or not is_portal_member(user):
        return False
    return _is_party(user, change) or (not user.is_service_account and user.has_role("release_manager"))


def can_approve(user, change: ChangeRequest) -> bool:
    """Whether to offer approve/reject: the service re-checks everything when the vote arrives."""
    from .services import approval_target

    if not is_portal_member(user) or user.is_service_account or not user.is_active:
        return False
    if user.pk in (change.requester_id, change.implementer_id):
        return False
    try:
        approval_target(change=change, user=user)
    except Exception:  # noqa: BLE001 — any refusal means no button
        return False
    return True


def can_authorise_override(user, change: ChangeRequest) -> bool:
    return (is_portal_member(user) and user.has_role("release_manager") and not user.is_service_account
            and change.change_type.is_emergency and change.state == "in_review"
            and user.pk not in (change.requester_id, change.implementer_id))


def can_manage_schedule(user) -> bool:
    return is_portal_member(user) and user.has_role("release_manager")


def can_run_cab(user) -> bool:
    return is_portal_member(user) and user.has_role("release_manager", "cab_member")


# Roles that oversee or administer changes and never carry one out.
NON_IMPLEMENTING_ROLES = ("auditor", "executive", "access_admin")


def implementer_candidates(*, service=None, environment=None, keep=None):
    """The people a change may name as its implementer: active people (no administrator account,
    no pipeline) on a team, without an oversight role; for a known service, its owning team; on
    production, holding the deployer privilege on the service (what deploying it asks for).
    `keep`: the change's current implementer stays choosable, so saving an unrelated edit never
    fails on them. One query."""
    from django.db.models import CharField, Exists, OuterRef, Q
    from django.db.models.functions import Cast
    from guardian.models import UserObjectPermission

    from apps.accounts.models import User
    from apps.catalog.privileges import DEPLOYER, PERMISSION_FOR

    qs = (User.objects.filter(is_active=True, kind=User.Kind.HUMAN, is_superuser=False)
          .exclude(groups__name__in=NON_IMPLEMENTING_ROLES))
    if service is not None:
        qs = qs.filter(memberships__team_id=service.owner_team_id)
        if environment is not None and environment.is_production:
            app_label, codename = PERMISSION_FOR[DEPLOYER].split(".", 1)
            qs = qs.filter(Exists(UserObjectPermission.objects.filter(
                user_id=OuterRef("pk"), permission__codename=codename, permission__content_type__app_label=app_label,
                content_type__app_label=app_label, content_type__model="service",
                object_pk=Cast(service.pk, CharField()))))
    else:
        qs = qs.filter(memberships__isnull=False)
    ids = qs.values("pk")
    return User.objects.filter(Q(pk__in=ids) | Q(pk=getattr(keep, "pk", None))).order_by("first_name", "last_name",
                                                                                          "username")
