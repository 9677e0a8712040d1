"""Closing writes its outcomes set-based: every item's outcome and every revoked or shortened grant
is in history with the actor, each revocation has its audit event, and the statement count does
not grow with the number of items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access_reviews.models import AccessGrant, ReviewItem
from apps.access_reviews.services import campaign_close, item_decide, items_decide_bulk
from apps.audit.models import AuditEvent
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_outcome_and_revocation_is_in_history_with_the_actor(team_lead, access_admin, approver, requester,
                                                                   implementer, service, make_grant, open_campaign):
    revoked = make_grant(approver, service, "approver", last_used_days=3)
    until = make_grant(requester, service, "deployer", last_used_days=3)
    stale = make_grant(implementer, service, "deployer", days_old=300)
    campaign = open_campaign()
    item_decide(item=campaign.items.get(grant=revoked), decision="revoke", actor=team_lead)
    keep_until = timezone.localdate() + timedelta(days=10)
    item_decide(item=campaign.items.get(grant=until), decision="keep_until", keep_until=keep_until, actor=team_lead)
    campaign_close(campaign=campaign, actor=access_admin, generate_reports=False)

    for item in campaign.items.all():
        closed = item.history.order_by("-history_id").first()
        assert closed.history_change_reason == "campaign closed" and closed.history_type == "~"
        assert (closed.outcome, closed.applied_at) == (item.outcome, item.applied_at) and item.outcome
        assert (closed.history_user, closed.history_actor_label) == (access_admin, "gina")
    for grant, reason in ((revoked, "revoked by lena"), (stale, "policy")):
        grant.refresh_from_db()
        row = grant.history.order_by("-history_id").first()
        assert row.history_change_reason == "revoked" and row.history_user == access_admin
        assert row.revoked_at == grant.revoked_at and reason in row.revoked_reason == grant.revoked_reason
        assert row.revoked_by == access_admin
    shortened = AccessGrant.objects.get(pk=until.pk)
    row = shortened.history.order_by("-history_id").first()
    assert row.expires_at == shortened.expires_at and shortened.expires_at.date() == keep_until
    assert row.history_user == access_admin
    revocations = AuditEvent.objects.filter(action="access_grant.revoked").order_by("seq")
    assert sorted(int(e.object_id) for e in revocations) == sorted([revoked.pk, stale.pk])


def test_closing_costs_the_same_statements_for_4_or_34_items(team_lead, access_admin, team, make_grant, approver,
                                                             requester, implementer, cab_member, service,
                                                             open_campaign, roles_ready):
    def campaign_of(revoke, keep, name):
        campaign = open_campaign(name=name)
        items = dict(campaign.items.values_list("grant_id", "pk"))
        items_decide_bulk(item_ids=[items[g.pk] for g in revoke], decision="revoke", actor=team_lead)
        items_decide_bulk(item_ids=[items[g.pk] for g in keep], decision="keep", actor=team_lead)
        return campaign  # the other items stay undecided

    small = [make_grant(p, service, "deployer", last_used_days=1) for p in (approver, requester, implementer,
                                                                             cab_member)]
    first = campaign_of(small[:1], small[1:3], "small")
    with CaptureQueriesContext(connection) as few:
        assert campaign_close(campaign=first, actor=access_admin, generate_reports=False).undecided == 1
    services = [ServiceFactory(slug=f"svc-{n}", owner_team=team) for n in range(3)]
    people = [UserFactory(username=f"holder{n}", roles=("approver",), team=team) for n in range(5)]
    large = [make_grant(person, svc, privilege, last_used_days=1)
             for svc in services for person in people for privilege in ("approver", "deployer")]
    second = campaign_of(large[:15], large[15:], "large")
    assert second.items.count() == 33  # and three of the small ones still held
    with CaptureQueriesContext(connection) as many:
        result = campaign_close(campaign=second, actor=access_admin, generate_reports=False)
    assert (result.revoked, result.kept, result.undecided) == (15, 15, 3)
    assert ReviewItem.objects.filter(campaign=second, outcome="revoked").count() == 15
    assert len(many.captured_queries) == len(few.captured_queries)
