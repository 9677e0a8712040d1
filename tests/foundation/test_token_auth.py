"""Bearer tokens: valid, wrong, expired, revoked, missing scope → 200 / 401 / 401 / 401 / 403."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke
from apps.accounts.tokens import hash_token

pytestmark = pytest.mark.django_db

SERVICES_URL = "/api/v1/services/"


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)


def test_valid_token_reads_services(api_client, service_account, service):
    _, raw = api_token_create(user=service_account, actor=service_account, name="pipeline")
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()["results"]] == ["payments-api"]


def test_wrong_token_is_refused(api_client, service_account, service):
    api_token_create(user=service_account, actor=service_account, name="pipeline")
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION="Bearer rp_nothere_not-a-real-token")
    _assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_refused(api_client, service_account, service):
    token, raw = api_token_create(user=service_account, actor=service_account, name="pipeline", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    _assert_error(response, 401, "authentication_failed")
    assert "expired" in response.json()["error"]["message"]


def test_revoked_token_is_refused(api_client, service_account, service):
    token, raw = api_token_create(user=service_account, actor=service_account, name="pipeline")
    api_token_revoke(token=token, actor=service_account, reason="rotated")
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    _assert_error(response, 401, "authentication_failed")
    assert "revoked" in response.json()["error"]["message"]


def test_token_without_the_scope_gets_403(api_client, service_account, service):
    _, raw = api_token_create(user=service_account, actor=service_account, name="narrow", scopes=["changes:read"])
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    _assert_error(response, 403, "insufficient_scope")


def test_missing_credentials_get_401(api_client, service):
    _assert_error(api_client.get(SERVICES_URL), 401, "not_authenticated")


def test_token_is_stored_hashed_with_a_short_prefix(service_account):
    token, raw = api_token_create(user=service_account, actor=service_account, name="pipeline")
    token.refresh_from_db()
    assert raw not in (token.token_hash, token.prefix)
    assert token.token_hash == hash_token(raw)
    assert raw.startswith(f"rp_{token.prefix}_") and len(token.prefix) == 8


def test_last_used_at_is_recorded(api_client, service_account, service):
    token, raw = api_token_create(user=service_account, actor=service_account, name="pipeline")
    assert token.last_used_at is None
    api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_scopes_beyond_the_role_are_refused(requester):
    from releaseportal.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        api_token_create(user=requester, actor=requester, name="greedy", scopes=["access:write"])
    assert "scopes" in exc.value.fields


def test_token_loses_a_scope_when_the_role_goes(api_client, access_admin):
    _, raw = api_token_create(user=access_admin, actor=access_admin, name="admin", scopes=["catalog:read"])
    assert api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    access_admin.groups.clear()
    # Without a role or team the account is an outsider: its token reads nothing.
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403


def test_create_api_token_command_prints_the_token_last(capsys, service_account, api_client, service):
    call_command("create_api_token", "ci-bot", "--scopes", "catalog:read,delivery:write", "--expires-in-days", "30")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get(token_hash=hash_token(raw))
    assert token.scopes == ["catalog:read", "delivery:write"]
    assert token.expires_at is not None
    assert api_client.get(SERVICES_URL, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
