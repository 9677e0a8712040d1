"""OpenAPI description of the portal's bearer tokens, so Swagger UI (/api/docs/) offers an
Authorize button and every operation names the scheme it accepts. drf-spectacular finds the
extension by class once this module is imported (AccountsConfig.ready)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

TOKEN_HOWTO = (
    "A personal API token. Create one on your profile page (/account/, \"API tokens\": choose a name, "
    "the scopes and an expiry; the token is shown once), or ask your team lead for a pipeline "
    "service-account token. Send it as `Authorization: Bearer <token>`; in Swagger UI press "
    "Authorize and paste the token alone. Each operation needs the scope named in its description; "
    "a token carries at most the scopes of its account's roles."
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": TOKEN_HOWTO}
