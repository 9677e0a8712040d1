"""Issue #16: a filter value the page does not know is refused (400, naming it) and left out,
so the list and its counters describe the same thing; the grant page and the campaign pages
explain revocation with the same text; review items date team changes by the membership's own
date, and the demo's memberships begin long before its grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.access_reviews.explain import REVOCATION_APPLIED
from apps.access_reviews.services import grant_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def grants(approver, requester, implementer, service, make_grant, access_admin):
    active = [make_grant(approver, service), make_grant(requester, service, "deployer")]
    revoked = make_grant(implementer, service, "deployer")
    grant_revoke(grant=revoked, reason="left the rota", actor=access_admin)
    return active, revoked


def test_an_invalid_status_is_refused_and_the_count_describes_the_list_shown(client, access_admin, grants):
    client.force_login(access_admin)
    response = client.get(reverse("access_reviews:grants"), {"status": "revoked"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="invalid-filters"' in body and "<strong>status</strong>: &#x27;revoked&#x27; is not one of" in body
    # The list is the default (active grants) and the counter says exactly that.
    assert '<span class="muted" id="grant-count">2 active grants' in body
    assert "200 revoked" not in body and "2 revoked" not in body


def test_valid_statuses_are_counted_with_their_own_words(client, access_admin, grants):
    client.force_login(access_admin)
    ended = client.get(reverse("access_reviews:grants"), {"status": "ended"})
    assert ended.status_code == 200
    assert 'id="grant-count">1 revoked or expired grants' in ended.content.decode()
    every = client.get(reverse("access_reviews:grants"), {"status": "all"}).content.decode()
    assert 'id="grant-count">3 grants (active and ended)' in every


def test_unknown_privilege_service_or_environment_are_refused_too(client, access_admin, grants):
    client.force_login(access_admin)
    response = client.get(reverse("access_reviews:grants"), {"privilege": "root", "service": "nope",
                                                             "environment": "mars"})
    body = response.content.decode()
    assert response.status_code == 400
    for name in ("privilege", "service", "environment"):
        assert f"<strong>{name}</strong>" in body
    assert 'id="grant-count">2 active grants' in body


def test_the_campaign_page_refuses_an_unknown_decision_and_counts_what_it_shows(
        client, access_admin, approver, requester, service, make_grant, open_campaign):
    make_grant(approver, service)
    make_grant(requester, service, "deployer")
    campaign = open_campaign()
    client.force_login(access_admin)
    response = client.get(reverse("access_reviews:campaign", args=[campaign.pk]), {"decision": "revoked"})
    body = response.content.decode()
    assert response.status_code == 400 and "<strong>decision</strong>" in body
    assert 'id="items-shown">2 shown' in body
    assert "Completion of the whole campaign" in body
    fine = client.get(reverse("access_reviews:campaign", args=[campaign.pk]), {"decision": "revoke"})
    assert fine.status_code == 200 and 'id="items-shown">0 shown of the filtered list' in fine.content.decode()


def test_the_reviewer_page_refuses_a_campaign_that_is_not_theirs(client, team_lead, approver, service, make_grant,
                                                                 open_campaign):
    make_grant(approver, service)
    campaign = open_campaign()
    client.force_login(team_lead)
    assert client.get(reverse("access_reviews:reviews"), {"campaign": str(campaign.pk)}).status_code == 200
    response = client.get(reverse("access_reviews:reviews"), {"campaign": "x1", "privilege": "god"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<strong>campaign</strong>" in body and "<strong>privilege</strong>" in body


def test_both_revocation_paths_show_the_same_explanation(client, access_admin, approver, service, make_grant,
                                                         open_campaign):
    make_grant(approver, service)
    campaign = open_campaign()
    client.force_login(access_admin)
    pages = [client.get(reverse("access_reviews:grants")).content.decode(),
             client.get(reverse("access_reviews:campaign", args=[campaign.pk])).content.decode()]

    def explanation(body: str) -> str:
        return body.split('id="revocation-explained">')[1].split("</details>")[0]

    assert explanation(pages[0]) == explanation(pages[1])
    assert "From the grant page" in explanation(pages[0]) and "In a review campaign" in explanation(pages[0])


def test_both_revocation_paths_end_their_message_with_the_same_sentence(client, access_admin, approver, requester,
                                                                        service, make_grant, open_campaign):
    grant = make_grant(approver, service)
    make_grant(requester, service, "deployer")
    campaign = open_campaign()
    client.force_login(access_admin)
    revoked = client.post(reverse("access_reviews:grant-revoke", args=[grant.pk]), {"reason": "rotation"}, follow=True)
    closed = client.post(reverse("access_reviews:campaign-close", args=[campaign.pk]), follow=True)
    for response in (revoked, closed):
        assert REVOCATION_APPLIED in response.content.decode()


def test_a_team_join_is_dated_by_the_membership_not_by_when_it_was_recorded(
        approver, service, make_grant, open_campaign, other_team):
    from apps.access_reviews.models import ReviewItem
    from apps.accounts.models import TeamMembership

    make_grant(approver, service, days_old=30)
    long_ago = timezone.now() - timedelta(days=400)
    membership = TeamMembership(team=other_team, user=approver, joined_at=long_ago)
    membership._history_date = timezone.now()  # imported today, joined long ago
    membership.save()
    recent = TeamMembership(team=other_team, user=approver, joined_at=timezone.now() - timedelta(days=3))
    TeamMembership.objects.filter(pk=membership.pk).delete()
    recent.save()
    campaign = open_campaign()
    item = ReviewItem.objects.get(campaign=campaign, grant__user=approver)
    changes = item.context["team_changes"]
    assert not any(f"on {long_ago:%Y-%m-%d}" in text for text in changes)
    assert any(text == f"joined {other_team.slug} on {recent.joined_at:%Y-%m-%d}" for text in changes)


def test_the_demo_memberships_begin_before_the_grants_and_differ_per_person(db):
    import random

    from apps.accounts import demo as accounts_demo
    from apps.accounts.models import TeamMembership

    class Ctx:
        now = timezone.now()
        rng = random.Random(1)
        teams: dict = {}
        users: dict = {}

        def say(self, text):
            pass

    ctx = Ctx()
    accounts_demo.seed(ctx)
    memberships = list(TeamMembership.objects.all())
    assert memberships
    assert all(m.joined_at <= ctx.now - timedelta(days=accounts_demo.JOINED_DAYS_AGO) for m in memberships)
    assert len({m.joined_at for m in memberships}) == len(memberships)
    created = TeamMembership.history.filter(history_type="+")
    assert all(row.history_date == row.joined_at for row in created)
