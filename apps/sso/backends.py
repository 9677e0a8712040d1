"""Authentication backends: passwords (subject to LOCAL_PASSWORD_LOGIN) and OpenID Connect.

The password rule lives here, not in the sign-in form, so every path that checks a password (the
sign-in page, the admin's, anything calling `authenticate`) obeys it."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from releaseportal.errors import InvalidInput

from .models import BreakGlassAccount
from .provider import DiscoveryError, provider_metadata, provider_settings, sso_enabled
from .services import oidc_sign_in, oidc_sign_in_refuse

logger = logging.getLogger(__name__)


class LocalPasswordBackend(ModelBackend):
    """Django's password check; with LOCAL_PASSWORD_LOGIN=break-glass only accounts flagged
    break-glass pass it (the check runs first either way, so the answer takes as long)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None or settings.LOCAL_PASSWORD_LOGIN == "on":
            return user
        if BreakGlassAccount.objects.filter(user=user).exists():
            return user
        logger.info("password sign-in refused for %s: LOCAL_PASSWORD_LOGIN=break-glass and not flagged",
                    user.get_username())
        return None


def sso_setting(attr: str, *args):
    """mozilla-django-oidc's settings, answered from ours and from the discovery document."""
    config = provider_settings()
    ours = {
        "OIDC_RP_CLIENT_ID": lambda: config.client_id,
        "OIDC_RP_CLIENT_SECRET": lambda: config.client_secret,
        "OIDC_RP_SCOPES": lambda: config.scopes,
        "OIDC_RP_SIGN_ALGO": lambda: config.sign_algo,
        "OIDC_TIMEOUT": lambda: config.timeout,
        "OIDC_USE_PKCE": lambda: True,
        "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "sso:callback",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: provider_metadata()["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": lambda: provider_metadata()["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": lambda: provider_metadata().get("userinfo_endpoint"),
        "OIDC_OP_JWKS_ENDPOINT": lambda: provider_metadata()["jwks_uri"],
    }
    if attr in ours:
        return ours[attr]()
    return import_from_settings(attr, *args)


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's authorization-code backend, answering only the sign-in callback and
    only while single sign-on is on. The account is found by the token's subject (never by
    e-mail); a token is refused unless its issuer is the configured one and its audience names
    our client; roles and teams are synced from the group claim on every sign-in."""

    def __init__(self, *args, **kwargs):
        # Django builds every backend for each authenticate() and session lookup: nothing is read
        # (no discovery) until a callback actually arrives.
        self.UserModel = get_user_model()

    get_settings = staticmethod(sso_setting)

    def get_user(self, user_id):
        # Django's, which refuses an inactive account (the library's does not): a person
        # deactivated after signing in loses the session at their next request.
        return ModelBackend.get_user(self, user_id)

    def authenticate(self, request, **kwargs):
        # The callback view passes the nonce; a password check (username/password) never gets here.
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None
        config = provider_settings()
        try:
            self.OIDC_OP_TOKEN_ENDPOINT = sso_setting("OIDC_OP_TOKEN_ENDPOINT")
            self.OIDC_OP_USER_ENDPOINT = sso_setting("OIDC_OP_USER_ENDPOINT")
            self.OIDC_OP_JWKS_ENDPOINT = sso_setting("OIDC_OP_JWKS_ENDPOINT")
            self.OIDC_RP_CLIENT_ID = config.client_id
            self.OIDC_RP_CLIENT_SECRET = config.client_secret
            self.OIDC_RP_SIGN_ALGO = config.sign_algo
            self.OIDC_RP_IDP_SIGN_KEY = None
            return super().authenticate(request, **kwargs)
        except DiscoveryError as exc:
            logger.warning("OpenID Connect sign-in failed: %s", exc)
        except (requests.RequestException, SuspiciousOperation, InvalidInput) as exc:
            # The provider refused the code, a signature or nonce did not verify: no account.
            logger.warning("OpenID Connect sign-in refused: %s", type(exc).__name__)
        return None

    def get_or_create_user(self, access_token, id_token, payload):
        """`payload` is the ID token, its signature and nonce verified by the library."""
        config = provider_settings()
        if payload.get("iss") != config.issuer:
            oidc_sign_in_refuse(issuer=config.issuer, reason="the ID token was issued by another issuer",
                                claims=payload)
            raise SuspiciousOperation("ID token issuer is not the configured issuer")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if config.client_id not in audiences or (len(audiences) > 1 and payload.get("azp") != config.client_id):
            oidc_sign_in_refuse(issuer=config.issuer, reason="the ID token is not for this client", claims=payload)
            raise SuspiciousOperation("ID token audience is not this client")
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            userinfo = self.get_userinfo(access_token, id_token, payload)
            # OpenID Connect Core 5.3.2: userinfo about another subject must not be used.
            if userinfo.get("sub") != payload.get("sub"):
                oidc_sign_in_refuse(issuer=config.issuer, reason="userinfo names another subject", claims=payload)
                raise SuspiciousOperation("userinfo subject differs from the ID token's")
            claims.update({key: value for key, value in userinfo.items() if key not in ("iss", "aud", "sub")})
        try:
            return oidc_sign_in(issuer=config.issuer, claims=claims, groups_claim=config.groups_claim)
        except IntegrityError:
            # A concurrent first sign-in of the same subject made the account: this one uses it.
            return oidc_sign_in(issuer=config.issuer, claims=claims, groups_claim=config.groups_claim)
