"""What the sign-in page offers: "Sign in with <provider>" while single sign-on is on, and
whether passwords are kept for break-glass accounts. No query, no network."""

from __future__ import annotations

from django.conf import settings

from .provider import provider_settings, sso_enabled


def sign_in_options(request) -> dict:
    return {
        "sso_provider_name": provider_settings().provider_name if sso_enabled() else "",
        "password_login_break_glass": settings.LOCAL_PASSWORD_LOGIN == "break-glass",
    }
