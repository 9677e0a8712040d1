"""GET/POST /api/v1/access/grants/ and POST /api/v1/access/grants/{id}/revoke/."""

from __future__ import annotations

import pytest

from apps.catalog.privileges import holds_privilege

pytestmark = pytest.mark.django_db

URL = "/api/v1/access/grants/"


def test_an_access_admin_grants_a_privilege(api_client_for, access_admin, approver, service, environments):
    client = api_client_for(access_admin)
    response = client.post(URL, {"user": "adam", "privilege": "approver", "service": "payments-api",
                                 "environment": "prod", "justification": "payments on-call"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"] == "adam" and body["status"] == "active" and body["granted_by"] == "gina"
    assert holds_privilege(approver, "approver", service, environments["prod"])


def test_granting_is_idempotent_with_a_key(api_client_for, access_admin, approver, service, environments):
    client = api_client_for(access_admin)
    payload = {"user": "adam", "privilege": "deployer", "service": "payments-api", "environment": "prod",
               "justification": "release duty"}
    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]


def test_granting_names_the_bad_fields(api_client_for, access_admin, service, environments):
    response = api_client_for(access_admin).post(URL, {"user": "nobody", "privilege": "root", "service": "x",
                                                      "environment": "prod", "justification": ""}, format="json")
    assert response.status_code == 400
    assert {"privilege", "justification"} <= set(response.json()["error"]["fields"])
    response = api_client_for(access_admin).post(URL, {"user": "nobody", "privilege": "approver", "service": "x",
                                                      "environment": "prod", "justification": "j"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"user", "service"}


def test_a_duplicate_grant_is_a_conflict(api_client_for, access_admin, approver, service, make_grant):
    make_grant(approver, service, "approver")
    response = api_client_for(access_admin).post(URL, {"user": "adam", "privilege": "approver",
                                                      "service": "payments-api", "environment": "prod",
                                                      "justification": "j"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "grant_exists"


def test_only_access_admins_grant(api_client_for, auditor, approver, service, environments):
    response = api_client_for(auditor).post(URL, {"user": "adam", "privilege": "approver", "service": "payments-api",
                                                 "environment": "prod", "justification": "j"}, format="json")
    assert response.status_code == 403


def test_revoke_takes_effect_at_once(api_client_for, access_admin, approver, service, environments, make_grant):
    grant = make_grant(approver, service, "approver")
    response = api_client_for(access_admin).post(f"{URL}{grant.pk}/revoke/", {"reason": "left on-call"},
                                                 format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert not holds_privilege(approver, "approver", service, environments["prod"])


def test_revoke_needs_a_reason(api_client_for, access_admin, approver, service, make_grant):
    grant = make_grant(approver, service, "approver")
    response = api_client_for(access_admin).post(f"{URL}{grant.pk}/revoke/", {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_list_filters(api_client_for, access_admin, auditor, approver, requester, service, access_grant_set):
    client = api_client_for(auditor)
    assert client.get(URL).json()["count"] == 4
    assert client.get(URL, {"user": "adam"}).json()["count"] == 2
    assert client.get(URL, {"user": "adam", "active": "true"}).json()["count"] == 1
    assert client.get(URL, {"active": "false"}).json()["count"] == 1
    assert client.get(URL, {"environment": "staging"}).json()["count"] == 1
    assert client.get(URL, {"service": "payments-api", "privilege": "deployer"}).json()["count"] == 3
    assert client.get(URL, {"active": "maybe"}).status_code == 400


def test_list_costs_a_fixed_number_of_queries(api_client_for, auditor, access_grant_set, make_grant,
                                             django_assert_max_num_queries, cab_member, service):
    client = api_client_for(auditor)
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200
    make_grant(cab_member, service, "deployer")
    with django_assert_max_num_queries(8):
        assert client.get(URL).json()["count"] == 5


def test_outsiders_and_anonymous_get_nothing(api_client, api_client_for, outsider, approver, service, make_grant):
    grant = make_grant(approver, service)
    assert api_client.get(URL).status_code == 401
    assert api_client.post(f"{URL}{grant.pk}/revoke/", {"reason": "x"}, format="json").status_code == 401
    client = api_client_for(outsider)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {}, format="json").status_code == 403
    assert client.post(f"{URL}{grant.pk}/revoke/", {"reason": "x"}, format="json").status_code == 403


def test_a_member_without_access_scope_is_refused(api_client_for, requester, approver, service, make_grant):
    grant = make_grant(approver, service)
    client = api_client_for(requester)
    assert client.get(URL).json()["error"]["code"] == "insufficient_scope"
    assert client.post(f"{URL}{grant.pk}/revoke/", {"reason": "x"}, format="json").status_code == 403


def test_a_disabled_token_gets_401(api_client, service_account, token_for, access_admin):
    from apps.accounts.services import api_tokens_revoke_for_user

    raw = token_for(service_account)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/services/").status_code == 200
    api_tokens_revoke_for_user(user=service_account, actor=access_admin, reason="review")
    assert api_client.get("/api/v1/services/").status_code == 401
