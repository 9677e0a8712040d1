"""An outsider and a token without the scope get nothing, on every delivery endpoint and page."""

from __future__ import annotations

import pytest

from .conftest import digest_of

pytestmark = pytest.mark.django_db

DIGEST = digest_of("x")
API = [
    ("get", "/api/v1/artifacts/"), ("post", "/api/v1/artifacts/"), ("get", f"/api/v1/artifacts/{DIGEST}/"),
    ("post", f"/api/v1/artifacts/{DIGEST}/evidence/"), ("get", "/api/v1/signing-keys/"),
    ("post", "/api/v1/signing-keys/"), ("post", "/api/v1/gates/check/"), ("get", "/api/v1/gates/decisions/"),
    ("get", "/api/v1/deployments/"), ("post", "/api/v1/deployments/"), ("get", "/api/v1/deployments/1/"),
    ("patch", "/api/v1/deployments/1/"),
]
PAGES = ["/delivery/", "/delivery/deployments/1/", "/delivery/artifacts/1/", "/delivery/gate-decisions/",
         "/delivery/reconciliation/", "/delivery/services/payments-api/"]


@pytest.mark.parametrize("method,url", API)
def test_anonymous_callers_get_401(api_client, method, url):
    assert getattr(api_client, method)(url, {}, format="json").status_code == 401


@pytest.mark.parametrize("method,url", API)
def test_an_outsider_gets_403(api_client_for, outsider, method, url):
    client = api_client_for(outsider, [])
    assert getattr(client, method)(url, {}, format="json").status_code == 403


@pytest.mark.parametrize("method,url", [(m, u) for m, u in API if m != "get"])
def test_a_read_only_token_cannot_write(api_client_for, service_account, method, url):
    client = api_client_for(service_account, ["delivery:read"])
    response = getattr(client, method)(url, {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize("method,url", [(m, u) for m, u in API if m == "get"])
def test_a_token_without_delivery_scopes_cannot_read(api_client_for, service_account, method, url):
    client = api_client_for(service_account, ["changes:read"])
    assert client.get(url).status_code == 403


def test_people_cannot_write_with_their_session(client, requester, environments, service):
    client.force_login(requester)
    response = client.post("/api/v1/deployments/", {"service": "payments-api"}, content_type="application/json")
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_outsiders_see_no_page(client, outsider, url):
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_reconciliation_is_for_auditors_release_managers_and_executives(client, requester, auditor):
    client.force_login(requester)
    assert client.get("/delivery/reconciliation/").status_code == 403
    client.force_login(auditor)
    assert client.get("/delivery/reconciliation/").status_code == 200
