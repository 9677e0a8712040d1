"""Listing people and teams costs a fixed number of queries, however many there are."""

from __future__ import annotations

import pytest

from apps.accounts.models import TeamMembership
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
