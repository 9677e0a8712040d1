"""The two ends of the OpenID Connect authorization-code flow (mozilla-django-oidc's views, with
our settings). Both answer 404 while single sign-on is off."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .backends import sso_setting
from .provider import DiscoveryError, provider_settings, sso_enabled

logger = logging.getLogger(__name__)


def _failed(request):
    messages.error(request, f"Signing in with {provider_settings().provider_name} did not succeed. "
                            "Try again, or ask your administrator.")
    return redirect("accounts:login")


class SignInStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with state, nonce and a PKCE challenge kept in the session."""

    get_settings = staticmethod(sso_setting)

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # settings (and discovery) are read in get(), not here

    def get(self, request):
        if not sso_enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = sso_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except DiscoveryError as exc:
            logger.warning("OpenID Connect sign-in could not start: %s", exc)
            return _failed(request)
        self.OIDC_RP_CLIENT_ID = provider_settings().client_id
        return super().get(request)


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the code is exchanged and checked by
    PortalOIDCBackend; a refusal is a message on the sign-in page, never a session."""

    get_settings = staticmethod(sso_setting)

    def get(self, request):
        if not sso_enabled():
            raise Http404
        return super().get(request)

    def login_failure(self):
        return _failed(self.request)
