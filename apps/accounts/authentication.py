from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import api_token_dead_ancestor
from .tokens import hash_token

# last_used_at is refreshed at most this often, so a busy pipeline does not write on every call.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = (ApiToken.objects.select_related("user").filter(token_hash=hash_token(parts[1])).first())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Token has been revoked.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token has expired.")
        # A token minted with a token dies with it, whatever wrote the revocation.
        if token.parent_id is not None and api_token_dead_ancestor(token) is not None:
            raise exceptions.AuthenticationFailed("The token it was minted from has been revoked or has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's account is disabled.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ReadOnlySessionAuthentication(authentication.SessionAuthentication):
    """Browser sessions may read the API (API.md); writes need a token."""

    def authenticate(self, request):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return None
        return super().authenticate(request)
