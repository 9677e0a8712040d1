"""Who may call /scim/v2/: a service account's bearer token carrying the scope `scim`, checked
here once for every SCIM endpoint (django-scim2's AUTH_CHECK_MIDDLEWARE wraps each view).
No token or a bad one: 401; a valid token without the scope, or of a person: 403. Both in
SCIM's error format. Browser sessions are never enough."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django_scim import constants
from django_scim.middleware import SCIMAuthCheckMiddleware
from rest_framework import exceptions

from apps.accounts.authentication import BearerTokenAuthentication
from apps.accounts.roles import allowed_scopes

SCIM_SCOPE = "scim"


def scim_error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [constants.SchemaURI.ERROR], "detail": detail, "status": status}
    if scim_type:
        body["scimType"] = scim_type
    response = HttpResponse(json.dumps(body), status=status, content_type=constants.SCIM_CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


class ScimTokenCheck(SCIMAuthCheckMiddleware):
    def should_log_request(self, request) -> bool:
        # Bodies carry personal data; what changed is in history and the audit trail.
        return False

    def process_request(self, request):
        try:
            result = BearerTokenAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            return scim_error(401, str(exc.detail))
        if result is None:
            return scim_error(401, "A bearer token is required: Authorization: Bearer <token>.")
        user, token = result
        if not user.is_service_account:
            return scim_error(403, "SCIM is for service accounts: this token belongs to a person.")
        if SCIM_SCOPE not in token.scopes or SCIM_SCOPE not in allowed_scopes(user, wanted=SCIM_SCOPE):
            return scim_error(403, f"This request needs a token with the scope '{SCIM_SCOPE}'.")
        request.user = user
        request.auth = token
        return None
