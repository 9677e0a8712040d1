"""Who may see and act on change requests: the one gate used by HTML views and the API."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member

from .models import ChangeRequest


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
    if ref.isdigit():
        change = qs.filter(pk=int(ref)).first()
    elif ref.upper().startswith("CHG-"):
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


def can_edit(user, change: ChangeRequest) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_superuser or user.pk in (change.requester_id, change.implementer_id):
        return True
    if user.is_service_account:
        return user.owner_team_id is not None and user.owner_team_id == change.service.owner_team_id
    if user.has_role("release_manager"):
        return True
    return user.memberships.filter(team_id=change.service.owner_team_id).exists()


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
