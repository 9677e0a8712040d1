"""API access, checked once for every endpoint.

A view names its `scope` ("changes" → `changes:read` for reads, `changes:write` for writes) or
a `required_scopes` dict by method. Token requests need that scope on the token; session
requests (reads only) need the user's roles to allow it. A view that names no scope refuses
everyone, so a new endpoint cannot ship unguarded."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from .permissions import is_portal_member
from .roles import allowed_scopes

SAFE = ("GET", "HEAD", "OPTIONS")


class InsufficientScope(exceptions.PermissionDenied):
    portal_code = "insufficient_scope"


def required_scope(view, method: str) -> str | None:
    by_method = getattr(view, "required_scopes", None)
    if by_method:
        return by_method.get(method) or (by_method.get("GET") if method in SAFE else None)
    scope = getattr(view, "scope", None)
    if not scope:
        return None
    return f"{scope}:read" if method in SAFE else f"{scope}:write"


def method_supported(view, method: str) -> bool:
    """Whether the view answers `method` at all (DRF looks the handler up only after permissions)."""
    name = method.lower()
    return name in view.http_method_names and hasattr(view, name)


class TokenScopePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        # An unsupported method is 405 for everyone, before scopes: PUT/DELETE/TRACE on an
        # endpoint without them is not a question of permission.
        if not method_supported(view, request.method):
            raise exceptions.MethodNotAllowed(request.method)
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not is_portal_member(user):
            raise exceptions.PermissionDenied("Your account has no role or team in Release Portal.")
        scope = required_scope(view, request.method)
        if scope is None:
            raise exceptions.PermissionDenied("This endpoint declares no scope.")
        token = request.auth
        granted = allowed_scopes(user, wanted=scope)
        if token is not None and hasattr(token, "scopes"):
            # A token never carries more than its account's roles allow today.
            granted &= set(token.scopes)
        if scope not in granted:
            raise InsufficientScope(f"This request needs the scope '{scope}'.")
        return True


class PortalMemberPermission(permissions.BasePermission):
    """For endpoints outside the scoped API (the OpenAPI schema): any portal member."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return is_portal_member(request.user)
