"""The two ends of the OpenID Connect authorization-code flow (mozilla-django-oidc's views, with
our settings), which answer 404 while single sign-on is off, and the read-only settings page
for access admins (the group mapping and who changed it)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.accounts.permissions import member_required

from .backends import sso_setting
from .permissions import require_sso_settings_viewer
from .provider import DiscoveryError, provider_settings, sso_enabled
from .selectors import sso_settings_page

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


@member_required
@require_GET
def group_mapping(request):
    """The group mapping as it stands, its last changes and the break-glass accounts. Read-only:
    the mapping is policy (manage.py sso_mapping_export / sso_mapping_import)."""
    require_sso_settings_viewer(request.user)
    return render(request, "sso/group_mapping.html", sso_settings_page())
