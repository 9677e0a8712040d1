"""Who may see the single sign-on settings (the group mapping, break-glass accounts): access
admins, who answer for who holds which role, and superusers. The pages use it; editing the
mapping stays the policy import (manage.py sso_mapping_import), never a page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from apps.accounts.permissions import is_portal_member
from apps.accounts.roles import ACCESS_ADMIN


def can_view_sso_settings(user) -> bool:
    return is_portal_member(user) and not user.is_service_account and user.has_role(ACCESS_ADMIN)


def require_sso_settings_viewer(user) -> None:
    """PermissionDenied (403) unless `user` may see the single sign-on settings. The page is no
    secret (the navigation names it to access admins), so a refusal says what is needed."""
    if not can_view_sso_settings(user):
        raise PermissionDenied("The single sign-on settings are for access admins.")
