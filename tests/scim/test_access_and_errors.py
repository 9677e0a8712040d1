"""Who may call /scim/v2/, and how bad input is answered: a SCIM error body with a scimType,
never a 500, and nothing written."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import TeamMembership, User
from apps.audit.models import AuditEvent
from tests.scim.conftest import ERROR_URN, SCIM_TYPE, ScimClient, user_body

ENDPOINTS = ["/scim/v2/Users", "/scim/v2/Groups", "/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas",
             "/scim/v2/ResourceTypes"]


def assert_scim_error(response, status, scim_type=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == SCIM_TYPE
    body = response.json()
    assert body["schemas"] == [ERROR_URN] and body["status"] == status and body["detail"]
    assert body.get("scimType") == scim_type
    return body


@pytest.mark.parametrize("path", ENDPOINTS)
def test_without_a_token_every_endpoint_answers_401(path, db):
    response = Client().get(path)
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_bad_token_gets_401(path, db):
    assert_scim_error(ScimClient("rp_deadbeef_not-a-token").get(path), 401)


def test_a_revoked_scim_token_gets_401(idp, scim):
    from apps.accounts.services import api_tokens_revoke_for_user

    api_tokens_revoke_for_user(user=idp, actor=idp, reason="rotated")
    assert_scim_error(scim.get("/scim/v2/Users"), 401)


def test_a_signed_in_browser_session_is_not_enough(client, superuser):
    client.force_login(superuser)
    assert_scim_error(client.get("/scim/v2/Users"), 401)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_an_outsider_token_gets_403_and_sees_nothing(path, outsider, scim_as):
    body = assert_scim_error(scim_as(outsider).get(path), 403)
    assert "Resources" not in body


def test_a_pipeline_token_without_the_scim_scope_gets_403(service_account, scim_as, requester):
    pipeline = scim_as(service_account)  # every scope it may hold by default: never `scim`
    assert_scim_error(pipeline.get("/scim/v2/Users"), 403)
    before = AuditEvent.objects.count()
    assert_scim_error(pipeline.patch(f"/scim/v2/Users/{requester.pk}",
                                     {"op": "replace", "path": "active", "value": False}), 403)
    requester.refresh_from_db()
    assert requester.is_active and AuditEvent.objects.count() == before


def test_a_persons_token_gets_403_even_a_superusers_with_the_scope(superuser, scim_as):
    assert_scim_error(scim_as(superuser, ["scim"]).get("/scim/v2/Users"), 403)


def test_the_scim_scope_is_opt_in_and_opens_nothing_else(idp, service_account, token_for, scim):
    from apps.accounts.models import ApiToken

    token_for(service_account)
    assert "scim" not in ApiToken.objects.filter(user=service_account).get().scopes
    # The SCIM token itself reads nothing of the portal's API.
    token = ApiToken.objects.get(user=idp)
    assert token.scopes == ["scim"]
    assert scim.client.get("/api/v1/changes/", **scim.headers).status_code == 403


def test_people_only_service_accounts_and_superusers_are_not_scim_resources(scim, service_account, superuser,
                                                                             requester):
    listed = {r["userName"] for r in scim.get("/scim/v2/Users").json()["Resources"]}
    assert "rita" in listed and not listed & {"ci-bot", "root", "okta-scim"}
    assert_scim_error(scim.get(f"/scim/v2/Users/{service_account.pk}"), 404)
    assert_scim_error(scim.delete(f"/scim/v2/Users/{superuser.pk}"), 404)
    superuser.refresh_from_db()
    assert superuser.is_active


def test_filter_by_username_finds_the_one_person_case_insensitively(scim, requester, approver):
    found = scim.get("/scim/v2/Users", filter='userName eq "RITA"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == str(requester.pk)
    none = scim.get("/scim/v2/Users", filter='userName eq "nobody"').json()
    assert none["totalResults"] == 0 and none["Resources"] == []
    scim.post("/scim/v2/Users", user_body("zoe", externalId="00u-zoe"))
    by_external = scim.get("/scim/v2/Users", filter='externalId eq "00u-zoe"').json()
    assert [r["userName"] for r in by_external["Resources"]] == ["zoe"]
    groups = scim.get("/scim/v2/Groups", filter='displayName eq "Payments"').json()
    assert [g["displayName"] for g in groups["Resources"]] == ["Payments"]


@pytest.mark.parametrize("text", ['userName eq', 'userName xx "a"', 'foo eq "x"', 'userName eq "a" and title pr',
                                  'emails[type eq "work"].value eq "a@b.c"', '"unterminated'])
def test_an_invalid_filter_is_a_400_invalid_filter(scim, requester, text):
    assert_scim_error(scim.get("/scim/v2/Users", filter=text), 400, "invalidFilter")


def test_a_duplicate_username_is_409_uniqueness_whatever_its_case(scim, requester):
    before = User.objects.count()
    body = assert_scim_error(scim.post("/scim/v2/Users", user_body("Rita")), 409, "uniqueness")
    assert "Rita" in body["detail"]
    assert User.objects.count() == before
    alice = scim.post("/scim/v2/Users", user_body("alice")).json()["id"]
    assert_scim_error(scim.patch(f"/scim/v2/Users/{alice}", {"op": "replace", "path": "userName", "value": "rita"}),
                      409, "uniqueness")
    assert_scim_error(scim.post("/scim/v2/Groups", {"displayName": "payments"}), 409, "uniqueness")


@pytest.mark.parametrize(("operation", "scim_type"), [
    ({"op": "replace", "path": "title", "value": "CEO"}, "invalidPath"),
    ({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
      "value": "x"}, "invalidPath"),
    ({"op": "replace", "value": {"active": False, "nickName": "al"}}, "invalidPath"),
    ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
    ({"op": "remove"}, "noTarget"),
    ({"op": "move", "path": "active", "value": False}, "invalidSyntax"),
    ({"op": "replace", "path": "emails", "value": [{"value": "not-an-email", "primary": True}]}, "invalidValue"),
    ({"op": "remove", "path": "userName"}, "mutability"),
])
def test_a_bad_patch_is_a_400_naming_the_problem_and_changes_nothing(scim, requester, operation, scim_type):
    before = (requester.history.count(), AuditEvent.objects.count())
    # The unknown path comes after a valid change: nothing of the request may be written.
    response = scim.patch(f"/scim/v2/Users/{requester.pk}",
                          {"op": "replace", "path": "name.givenName", "value": "Changed"}, operation)
    assert_scim_error(response, 400, scim_type)
    requester.refresh_from_db()
    assert requester.first_name == "Rita" and requester.is_active
    assert (requester.history.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(("body", "status", "scim_type"), [
    ([1, 2], 400, "invalidSyntax"),
    ({"name": {"givenName": "x"}}, 400, "invalidValue"),
    ({"userName": "has space"}, 400, "invalidValue"),
    ({"userName": "ok", "active": "sometimes"}, 400, "invalidValue"),
    ({"userName": "ok", "emails": "x@example.com"}, 400, "invalidValue"),
    ({"userName": "ok", "name": "Alice"}, 400, "invalidValue"),
])
def test_a_bad_user_body_is_a_400_and_creates_nobody(scim, body, status, scim_type):
    before = User.objects.count()
    assert_scim_error(scim.post("/scim/v2/Users", body), status, scim_type)
    assert User.objects.count() == before


def test_malformed_json_and_unknown_ids_are_scim_errors(scim, requester, team):
    raw = scim.client.post("/scim/v2/Users", "{nope", content_type=SCIM_TYPE, **scim.headers)
    assert_scim_error(raw, 400)
    assert_scim_error(scim.get("/scim/v2/Users/999999"), 404)
    assert_scim_error(scim.get("/scim/v2/Users/abc"), 404)
    assert_scim_error(scim.get("/scim/v2/Users/%C2%B2"), 404)
    assert_scim_error(scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "add", "path": "members",
                                                                "value": [{"value": "999999"}]}), 400, "invalidValue")
    assert_scim_error(scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "add", "path": "owners",
                                                                "value": [{"value": "1"}]}), 400, "invalidPath")
    assert_scim_error(scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "add", "path": "members",
                                                                "value": [{"value": "x1"}]}), 400, "invalidValue")
    assert not TeamMembership.objects.filter(team=team).exclude(user=requester).exists()


def test_the_discovery_endpoints_describe_what_is_supported(scim):
    config = scim.get("/scim/v2/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"]["supported"] and not config["bulk"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = {r["id"]: r["endpoint"] for r in scim.get("/scim/v2/ResourceTypes").json()["Resources"]}
    assert types == {"User": "/scim/v2/Users", "Group": "/scim/v2/Groups"}
    schema = scim.get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert schema["id"] == "urn:ietf:params:scim:schemas:core:2.0:User"
