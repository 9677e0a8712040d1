from __future__ import annotations

from apps.accounts.permissions import is_portal_member
from apps.accounts.roles import AUDITOR


def can_view_audit_log(user) -> bool:
    return is_portal_member(user) and (user.is_superuser or user.has_role(AUDITOR))
