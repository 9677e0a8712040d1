"""SCIM fixtures: the identity provider's service account, its token, and a client that speaks
application/scim+json with it."""

from __future__ import annotations

import json

import pytest
from django.test import Client

SCIM_TYPE = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimClient:
    """Django's test client with a bearer token and JSON bodies."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, body=None, **params):
        call = getattr(self.client, method)
        if method in ("get", "delete"):
            return call(path, params or None, **self.headers) if method == "get" else call(path, **self.headers)
        return call(path, json.dumps(body), content_type=SCIM_TYPE, **self.headers)

    def get(self, path, **params):
        return self._send("get", path, **params)

    def post(self, path, body):
        return self._send("post", path, body)

    def put(self, path, body):
        return self._send("put", path, body)

    def patch(self, path, *operations):
        return self._send("patch", path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                          "Operations": list(operations)})

    def delete(self, path):
        return self._send("delete", path)


@pytest.fixture
def idp(roles_ready, team):
    """The identity provider's service account (owned by a team, like every service account)."""
    from apps.accounts.models import User
    from tests.factories import UserFactory

    return UserFactory(username="okta-scim", kind=User.Kind.SERVICE_ACCOUNT, owner_team=team)


@pytest.fixture
def scim(idp, token_for):
    return ScimClient(token_for(idp, ["scim"]))


@pytest.fixture
def scim_as(token_for):
    """scim_as(user, scopes) -> a ScimClient with that user's token."""
    return lambda user, scopes=None: ScimClient(token_for(user, scopes))


def user_body(username="alice@example.com", **over):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": username,
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "emails": [{"value": username if "@" in username else f"{username}@example.com", "primary": True}],
            "active": True, "externalId": f"ext-{username}"}
    body.update(over)
    return body


@pytest.fixture
def prod_grant(environments, service, access_admin):
    """prod_grant(user, privilege="deployer") -> an active production grant issued by the access admin."""
    from apps.access_reviews.services import grant_create

    def make(user, privilege="deployer"):
        return grant_create(user=user, privilege=privilege, service=service, environment=environments["prod"],
                            justification="on-call deployer", actor=access_admin)

    return make


def audit_actions(actor):
    from apps.audit.models import AuditEvent

    # The fixture's own token for the SCIM account is left out: what the SCIM requests did.
    return list(AuditEvent.objects.filter(actor=actor).exclude(action="api_token.created").order_by("seq")
                .values_list("action", flat=True))
