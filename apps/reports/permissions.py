"""Who may read the metrics: executives, release managers, auditors and team leads (the
managers of the issue). The API additionally needs the token scope `reports:read`."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from apps.accounts.permissions import is_portal_member, member_required

REPORT_ROLES = ("executive", "release_manager", "auditor")


def can_view_reports(user) -> bool:
    if not is_portal_member(user):
        return False
    if user.has_role(*REPORT_ROLES):
        return True
    if not hasattr(user, "_leads_a_team"):
        user._leads_a_team = user.memberships.filter(role="lead").exists()
    return user._leads_a_team


def can_generate_reports(user) -> bool:
    return is_portal_member(user) and user.has_role("executive", "release_manager")


def reports_viewer_required(view):
    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_view_reports(request.user):
            raise PermissionDenied("The reports are for executives, managers, release managers and auditors.")
        return view(request, *args, **kwargs)

    return wrapped
