"""Listing people and teams, and ending a leaver's sessions, cost a fixed number of queries, however many
people, teams and sessions there are."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from apps.accounts.models import PortalSession, TeamMembership, User
from apps.accounts.sessions import SessionStore
from tests.factories import TeamFactory, UserFactory


def _people(n, teams):
    for i in range(n):
        person = UserFactory(username=f"person{i:03d}")
        for team in teams:
            TeamMembership.objects.create(team=team, user=person)


@pytest.mark.parametrize("n", [3, 40])
def test_listing_users_is_a_fixed_number_of_queries(scim, n, django_assert_max_num_queries):
    _people(n, [TeamFactory(slug="a", name="A"), TeamFactory(slug="b", name="B")])
    # Token lookup and its last-use stamp, count, page, memberships with teams.
    with django_assert_max_num_queries(6):
        body = scim.get("/scim/v2/Users", count="100").json()
    assert body["totalResults"] >= n and len(body["Resources"][0]["groups"]) == 2


@pytest.mark.parametrize("n", [3, 40])
def test_listing_groups_and_filtering_users_is_a_fixed_number_of_queries(scim, n, django_assert_max_num_queries):
    teams = [TeamFactory(slug=f"t{i}", name=f"T{i}") for i in range(5)]
    _people(n, teams)
    with django_assert_max_num_queries(6):
        groups = scim.get("/scim/v2/Groups").json()
    assert len(groups["Resources"][-1]["members"]) == n
    with django_assert_max_num_queries(6):
        found = scim.get("/scim/v2/Users", filter='userName sw "person"').json()
    assert found["totalResults"] == n


def test_pages_are_bounded_by_the_setting(scim, settings):
    settings.SCIM_MAX_RESULTS = 2
    _people(5, [])
    body = scim.get("/scim/v2/Users", count="50", startIndex="2").json()
    assert body["itemsPerPage"] == 2 and body["startIndex"] == 2 and body["totalResults"] == 5


def _sessions(n, user=None):
    for _ in range(n):
        session = SessionStore()
        if user is not None:
            session[SESSION_KEY] = str(user.pk)
        session.create()


@pytest.mark.parametrize("n", [3, 200])
def test_deactivating_a_person_ends_their_sessions_in_a_fixed_number_of_queries(
        scim, requester, n, django_assert_max_num_queries, monkeypatch):
    person = scim.post("/scim/v2/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": "leaver"}).json()
    leaver = User.objects.get(pk=person["id"])
    for _ in range(2):
        Client().force_login(leaver)
    # Everyone else's sessions (signed in, and anonymous ones) are neither read nor touched.
    _sessions(n, requester)
    _sessions(n)

    decoded = []
    monkeypatch.setattr(SessionStore, "decode", lambda self, data: decoded.append(data) or {})

    with django_assert_max_num_queries(14) as captured:
        response = scim.delete(f"/scim/v2/Users/{leaver.pk}")

    assert response.status_code == 204
    # One lookup by the account's column; no session is read, let alone decoded.
    session_sql = [q["sql"] for q in captured.captured_queries if PortalSession._meta.db_table in q["sql"]]
    assert len(session_sql) == 1 and session_sql[0].startswith("DELETE") and "user_id" in session_sql[0]
    assert decoded == []
    assert not PortalSession.objects.filter(user=leaver).exists()
    assert PortalSession.objects.count() == 2 * n
