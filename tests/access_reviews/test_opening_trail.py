"""Opening a campaign is one state change: one audit event for the campaign, a creation row in
history for every item with the actor, all or nothing, at a cost that does not grow with the
number of grants."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.access_reviews.models import ReviewCampaign, ReviewItem
from apps.access_reviews.selectors import campaign_items_digest
from apps.audit.actor import Actor, acting_as
from apps.audit.models import AuditEvent
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_grants(team_lead, approver, requester, implementer, service, make_grant):
    return [make_grant(approver, service, "approver"), make_grant(requester, service, "deployer"),
            make_grant(implementer, service, "deployer", last_used_days=3)]


def _expected_digest(campaign) -> str:
    """The documented format, computed here from the items themselves."""
    lines = "".join(f"{i.pk}\t{i.grant_id}\t{i.reviewer_id}\t{i.reassigned_from_id or ''}\n"
                    for i in ReviewItem.objects.filter(campaign=campaign).order_by("pk"))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_opening_writes_one_audit_event_naming_the_item_set(three_grants, team_lead, open_campaign):
    before = AuditEvent.objects.count()
    campaign = open_campaign()
    new_events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(e.action, e.object_id) for e in new_events] == [("access_review.campaign_opened", str(campaign.pk))]
    details = new_events[0].details
    assert details["items"] == 3 and details["reviewers"] == 1
    assert details["items_sha256"] == _expected_digest(campaign)
    assert details["to_access_admins"] == 0 and details["reassigned_from_holder"] == 0


def test_every_item_creation_is_in_history_with_the_actor(three_grants, team_lead, access_admin, open_campaign):
    campaign = open_campaign()
    items = list(campaign.items.order_by("pk"))
    assert len(items) == 3
    for item in items:
        created = item.history.get()  # exactly one row: the creation
        assert created.history_type == "+"
        assert created.history_user == access_admin
        assert (created.history_actor_kind, created.history_actor_label) == ("user", "gina")
        assert created.history_change_reason == "assigned"
        assert created.history_date == campaign.opened_at
        assert (created.grant_id, created.reviewer_id, created.campaign_id) == (item.grant_id, team_lead.pk,
                                                                                campaign.pk)
        assert created.context == item.context and created.context["roles"]
        assert created.assignment_note == item.assignment_note


def test_a_task_opening_names_the_task_in_history(three_grants, team_lead, open_campaign):
    with acting_as(Actor.for_task("access_reviews.open_quarterly_campaign")) as actor:
        campaign = open_campaign(actor=actor)
    rows = ReviewItem.history.filter(campaign_id=campaign.pk)
    assert rows.count() == 3
    assert {(r.history_actor_kind, r.history_actor_label, r.history_user.username) for r in rows} == {
        ("task", "task:access_reviews.open_quarterly_campaign", "system")}


def test_reassignments_are_in_the_item_history_and_the_counts(team_lead, approver, access_admin, service, make_grant,
                                                              open_campaign):
    own = make_grant(team_lead, service, "approver")
    make_grant(approver, service, "approver")
    campaign = open_campaign()
    created = ReviewItem.history.get(campaign_id=campaign.pk, grant_id=own.pk)
    assert (created.reviewer_id, created.reassigned_from_id) == (access_admin.pk, team_lead.pk)
    assert "lead holds this grant" in created.assignment_note
    details = AuditEvent.objects.get(action="access_review.campaign_opened").details
    assert details["reassigned_from_holder"] == 1 and details["to_access_admins"] == 1 and details["reviewers"] == 2


def test_the_digest_exposes_an_item_added_to_history_afterwards(three_grants, team_lead, approver, service,
                                                                 open_campaign):
    campaign = open_campaign()
    event = AuditEvent.objects.get(action="access_review.campaign_opened")
    assert campaign_items_digest(campaign.pk) == (3, event.details["items_sha256"])
    # History is append-only, but a forged creation row can still be appended: the event catches it.
    ReviewItem.history.model.objects.create(
        id=999_999, campaign_id=campaign.pk, grant_id=three_grants[0].pk, reviewer_id=approver.pk, context={},
        history_type="+", history_date=campaign.opened_at, history_actor_kind="user", history_actor_label="mallory")
    count, digest = campaign_items_digest(campaign.pk)
    assert count == 4 and digest != event.details["items_sha256"]


def test_campaigns_over_different_items_have_different_digests(three_grants, team_lead, open_campaign,
                                                               access_admin):
    from apps.access_reviews.services import grant_revoke

    first = open_campaign(name="first")
    grant_revoke(grant=three_grants[0], reason="left", actor=access_admin)
    second = open_campaign(name="second")
    digests = {e.object_id: e.details["items_sha256"]
               for e in AuditEvent.objects.filter(action="access_review.campaign_opened")}
    assert second.items.count() == 2
    assert digests[str(first.pk)] != digests[str(second.pk)]
    assert digests[str(second.pk)] == _expected_digest(second)


def test_nothing_is_written_when_the_audit_event_fails(three_grants, team_lead, open_campaign, monkeypatch):
    from apps.access_reviews.services import opening

    def broken(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(opening, "audit_event_record", broken)
    with pytest.raises(RuntimeError):
        open_campaign()
    assert ReviewCampaign.objects.count() == 0
    assert ReviewItem.objects.count() == 0
    assert ReviewItem.history.count() == 0
    assert ReviewCampaign.history.count() == 0


def test_opening_costs_the_same_queries_for_3_or_30_grants(three_grants, team_lead, team, make_grant, open_campaign,
                                                           roles_ready):
    with CaptureQueriesContext(connection) as small:
        open_campaign(name="small")
    services = [ServiceFactory(slug=f"svc-{n}", owner_team=team) for n in range(3)]
    people = [UserFactory(username=f"holder{n}", roles=("approver",), team=team) for n in range(5)]
    for svc in services:
        for person in people:
            make_grant(person, svc, "approver")
            make_grant(person, svc, "deployer")
    with CaptureQueriesContext(connection) as large:
        campaign = open_campaign(name="large")
    assert campaign.items.count() == 33
    assert len(large.captured_queries) == len(small.captured_queries)


def test_context_text_survives_the_bulk_load_verbatim(team_lead, approver, service, make_grant, open_campaign):
    from apps.access_reviews.models import AccessGrant

    grant = make_grant(approver, service)
    awkward = 'Left "Payments \\ Core"\tteam\non 2026-11-02 — ünïcode, \\N and \\.'
    AccessGrant.objects.filter(pk=grant.pk).update(flag_reason=awkward)
    item = open_campaign().items.get(grant=grant)
    assert item.context["flag"] == awkward
    assert item.history.get().context["flag"] == awkward
