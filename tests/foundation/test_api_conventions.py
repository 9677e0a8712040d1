"""API.md conventions implemented once: the error body, Idempotency-Key, pagination, schema."""

import pytest

from apps.accounts.models import ApiToken, IdempotencyRecord
from apps.audit.models import AuditEvent
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_unknown_route_under_the_api_is_a_404_not_a_500(api_client_for, service_account):
    response = api_client_for(service_account).get("/api/v1/services/no-such-service/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_malformed_json_is_a_400_with_the_error_body(api_client_for, superuser, service):
    response = api_client_for(superuser).generic("PATCH", f"/api/v1/services/{service.slug}/", "{not json",
                                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_session_cannot_write_through_the_api(client, superuser, service):
    client.force_login(superuser)
    assert client.get("/api/v1/services/").status_code == 200
    response = client.patch(f"/api/v1/services/{service.slug}/", {"tier": 2}, content_type="application/json")
    assert response.status_code == 401


def test_list_pagination_is_capped_at_500(api_client_for, service_account, team):
    for n in range(3):
        ServiceFactory(slug=f"svc-{n}", owner_team=team)
    client = api_client_for(service_account)
    body = client.get("/api/v1/services/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert len(client.get("/api/v1/services/?page_size=100000").json()["results"]) == 3


def test_list_endpoints_cost_a_fixed_number_of_queries(api_client_for, service_account, team, django_assert_max_num_queries):
    client = api_client_for(service_account)
    for n in range(30):
        ServiceFactory(slug=f"svc-{n}", owner_team=team)
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/v1/services/?page_size=100").json()["results"]) == 30


def test_filters_narrow_the_service_list(api_client_for, service_account, service, other_team):
    ServiceFactory(slug="login", owner_team=other_team, compliance_scopes=["hipaa"], tier=2)
    client = api_client_for(service_account)
    assert [s["slug"] for s in client.get("/api/v1/services/?team=identity").json()["results"]] == ["login"]
    assert [s["slug"] for s in client.get("/api/v1/services/?scope=pci").json()["results"]] == ["payments-api"]
    assert [s["slug"] for s in client.get("/api/v1/services/?tier=2").json()["results"]] == ["login"]


class TestIdempotencyKey:
    """Exercised on a POST that creates a record: minting an API token through the API."""

    def _post(self, client, body, key):
        return client.post("/api/v1/tokens/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    def test_a_repeat_with_the_same_body_returns_the_first_response_and_creates_nothing(self, api_client_for, requester):
        client = api_client_for(requester)
        first = self._post(client, {"name": "laptop", "scopes": ["changes:read"]}, "key-1")
        assert first.status_code == 201, first.content
        again = self._post(client, {"name": "laptop", "scopes": ["changes:read"]}, "key-1")
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert ApiToken.objects.filter(name="laptop").count() == 1
        assert AuditEvent.objects.filter(action="api_token.created").count() == 2  # fixture token + this one

    def test_a_repeat_with_another_body_is_a_409(self, api_client_for, requester):
        client = api_client_for(requester)
        assert self._post(client, {"name": "laptop"}, "key-2").status_code == 201
        response = self._post(client, {"name": "desktop"}, "key-2")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert not ApiToken.objects.filter(name="desktop").exists()

    def test_a_failed_request_frees_the_key(self, api_client_for, requester):
        client = api_client_for(requester)
        bad = self._post(client, {"name": "x", "scopes": ["access:write"]}, "key-3")
        assert bad.status_code == 400 and "scopes" in bad.json()["error"]["fields"]
        assert not IdempotencyRecord.objects.filter(key="key-3").exists()
        assert self._post(client, {"name": "x", "scopes": ["changes:read"]}, "key-3").status_code == 201

    def test_keys_belong_to_their_caller(self, api_client_for, requester, approver):
        assert self._post(api_client_for(requester), {"name": "a"}, "shared").status_code == 201
        assert self._post(api_client_for(approver), {"name": "b"}, "shared").status_code == 201


def test_the_openapi_schema_is_served_to_members_only(client, api_client_for, service_account, outsider):
    assert client.get("/api/schema/").status_code in (401, 403)
    response = api_client_for(service_account).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/services/" in response.content
    client.force_login(outsider)
    assert client.get("/api/schema/").status_code == 403


def test_swagger_ui_is_served_from_our_static_files(client, superuser):
    client.force_login(superuser)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content and b"cdn.jsdelivr" not in response.content


def test_every_api_view_declares_a_scope():
    """A view without a scope would refuse everyone; this catches it before a user does."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from apps.accounts.api_permissions import required_scope

    missing = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                cls = getattr(p.callback, "cls", None)
                if route.startswith("api/v1/") and cls is not None:
                    view = cls()
                    methods = [m.upper() for m in ("get", "post", "patch", "put", "delete") if hasattr(cls, m)]
                    if any(required_scope(view, m) is None for m in methods):
                        missing.append(route)

    walk(get_resolver().url_patterns)
    assert missing == []


def test_the_openapi_schema_generates_without_errors():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/v1/services/" in schema["paths"]
    assert GENERATOR_STATS._error_cache == {}, list(GENERATOR_STATS._error_cache)
