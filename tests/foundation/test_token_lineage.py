"""A token minted with a token never outlives or outranks its parent, and dies with it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke
from apps.audit.models import AuditEvent
from releaseportal.errors import InvalidInput, NotAllowed

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SERVICES_URL = "/api/v1/services/"


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock(NOW)


def _about(value: dt.datetime, expected: dt.datetime) -> bool:
    """The pinned clock keeps ticking from NOW while the test runs."""
    return expected <= value < expected + dt.timedelta(minutes=1)


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _mint_over_api(raw: str, **body):
    return _client(raw).post(reverse("api-tokens"), {"name": "child", **body}, format="json")


@pytest.fixture
def day_token(service_account):
    """A 1-day token that may read the catalogue and changes and post deliveries."""
    return api_token_create(user=service_account, actor=service_account, name="day", expires_in_days=1,
                            scopes=["catalog:read", "changes:read", "delivery:write"])


@pytest.mark.parametrize("asked", [{}, {"expires_in_days": 3650}], ids=["no-expiry", "ten-years"])
def test_a_child_never_outlives_its_parent(day_token, asked):
    parent, raw = day_token
    response = _mint_over_api(raw, **asked)
    assert response.status_code == 201, response.content
    child = ApiToken.objects.get(pk=response.json()["id"])
    assert child.parent == parent
    assert child.expires_at == parent.expires_at and _about(parent.expires_at, NOW + dt.timedelta(days=1))
    assert response.json()["expires_at"].startswith("2026-12-04T09:00")


def test_a_child_may_expire_sooner_than_its_parent(day_token):
    parent, _raw = day_token
    child, _ = api_token_create(user=parent.user, actor=parent.user, name="c", parent=parent, expires_in_days=1,
                                scopes=["catalog:read"])
    assert child.expires_at == parent.expires_at
    unlimited, raw = api_token_create(user=parent.user, actor=parent.user, name="u", scopes=["catalog:read"])
    response = _mint_over_api(raw, expires_in_days=30)
    assert response.status_code == 201
    assert _about(ApiToken.objects.get(pk=response.json()["id"]).expires_at, NOW + dt.timedelta(days=30))


def test_a_child_never_outranks_its_parent(day_token):
    parent, raw = day_token
    response = _mint_over_api(raw, scopes=["catalog:read", "changes:write"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"]["scopes"] == ["Not held by this token: changes:write"]
    assert not ApiToken.objects.filter(parent=parent).exists()
    with pytest.raises(InvalidInput):  # the service holds the rule for every path, not the view
        api_token_create(user=parent.user, actor=parent.user, name="c", parent=parent, scopes=["incidents:write"])


def test_a_child_takes_its_parents_scopes_by_default(day_token):
    parent, raw = day_token
    response = _mint_over_api(raw)
    assert response.json()["scopes"] == sorted(parent.scopes) == ["catalog:read", "changes:read", "delivery:write"]


def test_revoking_a_parent_revokes_every_descendant_at_once(day_token, api_client):
    parent, raw = day_token
    child_raw = _mint_over_api(raw).json()["token"]
    grandchild_raw = _mint_over_api(child_raw).json()["token"]
    child = ApiToken.objects.get(parent=parent)
    grandchild = ApiToken.objects.get(parent=child)
    assert _client(grandchild_raw).get(SERVICES_URL).status_code == 200

    api_token_revoke(token=parent, actor=parent.user, reason="leaked")

    for token in (parent, child, grandchild):
        token.refresh_from_db()
        assert token.revoked_at == parent.revoked_at and _about(token.revoked_at, NOW)
    assert grandchild.revoked_reason == f"minted from revoked token {parent.prefix}…"
    revoked = AuditEvent.objects.filter(action="api_token.revoked").values_list("object_id", flat=True)
    assert sorted(revoked) == sorted(str(t.pk) for t in (parent, child, grandchild))  # one event each
    assert grandchild.history.first().revoked_at == grandchild.revoked_at
    assert grandchild.history.first().history_user == parent.user
    for secret in (raw, child_raw, grandchild_raw):
        assert _client(secret).get(SERVICES_URL).status_code == 401


@pytest.mark.parametrize("kill", ["revoked", "expired"])
def test_a_child_dies_with_its_ancestor_at_authentication_whatever_wrote_it(day_token, kill):
    """Even when the parent's end was written past the service (an admin edit, a direct
    UPDATE), the descendants' requests are refused."""
    parent, raw = day_token
    child_raw = _mint_over_api(raw).json()["token"]
    grandchild_raw = _mint_over_api(child_raw).json()["token"]
    change = {"revoked_at": NOW} if kill == "revoked" else {"expires_at": NOW - dt.timedelta(seconds=1)}
    ApiToken.objects.filter(pk=parent.pk).update(**change)
    for secret in (child_raw, grandchild_raw):
        response = _client(secret).get(SERVICES_URL)
        assert response.status_code == 401
        assert "minted from" in response.json()["error"]["message"]


def test_a_dead_token_or_one_with_a_dead_ancestor_cannot_mint(day_token):
    parent, raw = day_token
    child_raw = _mint_over_api(raw).json()["token"]
    child = ApiToken.objects.get(parent=parent)
    ApiToken.objects.filter(pk=parent.pk).update(revoked_at=NOW)
    with pytest.raises(NotAllowed, match="revoked or expired"):
        api_token_create(user=child.user, actor=child.user, name="c", parent=child)
    assert _mint_over_api(child_raw).status_code == 401
    assert ApiToken.objects.count() == 2


def test_a_token_mints_only_for_its_own_account(day_token, requester):
    parent, _raw = day_token
    with pytest.raises(NotAllowed):
        api_token_create(user=requester, actor=requester, name="c", parent=parent)


def test_authenticating_a_child_costs_one_query_more_whatever_its_depth(day_token, django_assert_num_queries):
    parent, raw = day_token
    secrets = [raw]
    for _ in range(3):
        secrets.append(_mint_over_api(secrets[-1]).json()["token"])
    from rest_framework.test import APIRequestFactory

    from apps.accounts.authentication import BearerTokenAuthentication

    for secret, queries in ((raw, 1), (secrets[1], 2), (secrets[3], 2)):
        request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {secret}")
        ApiToken.objects.update(last_used_at=NOW)
        with django_assert_num_queries(queries):
            BearerTokenAuthentication().authenticate(request)
