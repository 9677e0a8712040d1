"""The gate for people: who counts as a member of the portal at all.

An *outsider* is an account with no role and no team (a contractor not yet onboarded, a
deactivated person's leftovers): they can sign in and see their own profile, nothing else."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def is_portal_member(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or user.is_service_account:
        return True
    if not hasattr(user, "_is_member"):
        user._is_member = bool(user.role_names()) or user.memberships.exists()
    return user._is_member


def member_required(view):
    """Views for portal members: anonymous users go to the login page, outsiders get 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_portal_member(request.user):
            raise PermissionDenied("Your account has no role or team in Release Portal.")
        return view(request, *args, **kwargs)

    return wrapped


def role_required(*roles: str):
    def decorator(view):
        @member_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_role(*roles):
                raise PermissionDenied("This page needs the role: " + " or ".join(roles) + ".")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
