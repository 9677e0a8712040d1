"""Bulk decisions: every item decided is a state change with its history row and audit event, all
in one transaction, at a cost that does not grow with the number of items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access_reviews.models import ReviewItem
from apps.access_reviews.services import items_decide_bulk
from apps.audit.models import AuditEvent
from releaseportal.errors import InvalidInput
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_items(team_lead, approver, requester, implementer, service, make_grant, open_campaign):
    for person in (approver, requester, implementer):
        make_grant(person, service, "deployer", last_used_days=2)
    return list(open_campaign().items.order_by("pk"))


def test_each_item_decided_in_bulk_has_its_history_row_and_audit_event(open_items, team_lead):
    ids = [i.pk for i in open_items]
    result = items_decide_bulk(item_ids=ids, decision="revoke", actor=team_lead)
    assert result.decided == ids and result.skipped == {}
    for item in ReviewItem.objects.filter(pk__in=ids):
        assert (item.decision, item.decided_by) == ("revoke", team_lead)
        latest = item.history.order_by("-history_id").first()
        assert (latest.decision, latest.history_user, latest.history_actor_kind) == ("revoke", team_lead, "user")
        assert latest.history_change_reason == "decided: revoke"
        assert latest.history_date == item.decided_at
    events = AuditEvent.objects.filter(action="access_review.item_decided").order_by("seq")
    assert [e.object_id for e in events] == [str(pk) for pk in ids]
    assert {e.actor_label for e in events} == {"lena"}
    assert events[0].details["decision"] == "revoke" and events[0].details["holder"] == "adam"


@pytest.mark.parametrize(("params", "field"), [
    ({"decision": "maybe"}, "decision"),
    ({"decision": "keep_until"}, "keep_until"),
    ({"decision": "keep_until", "keep_until": timezone.localdate() - timedelta(days=1)}, "keep_until"),
])
def test_bad_input_refuses_the_whole_bulk_and_names_the_field(open_items, team_lead, params, field):
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as exc:
        items_decide_bulk(item_ids=[i.pk for i in open_items], actor=team_lead, **params)
    assert field in exc.value.fields
    assert not ReviewItem.objects.exclude(decision="").exists()
    assert AuditEvent.objects.count() == events_before


def test_nothing_is_decided_when_the_audit_write_fails(open_items, team_lead, monkeypatch):
    from apps.access_reviews.services import campaigns

    def broken(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(campaigns, "audit_events_record_many", broken)
    with pytest.raises(RuntimeError):
        items_decide_bulk(item_ids=[i.pk for i in open_items], decision="keep", actor=team_lead)
    assert not ReviewItem.objects.exclude(decision="").exists()
    assert not ReviewItem.history.exclude(decision="").exists()


def test_a_bulk_decision_costs_the_same_queries_for_3_or_30_items(open_items, team_lead, team, make_grant,
                                                                  open_campaign, roles_ready):
    with CaptureQueriesContext(connection) as small:
        assert len(items_decide_bulk(item_ids=[i.pk for i in open_items], decision="keep",
                                     actor=team_lead).decided) == 3
    services = [ServiceFactory(slug=f"svc-{n}", owner_team=team) for n in range(3)]
    people = [UserFactory(username=f"holder{n}", roles=("approver",), team=team) for n in range(5)]
    for svc in services:
        for person in people:
            make_grant(person, svc, "approver", last_used_days=1)
            make_grant(person, svc, "deployer", last_used_days=1)
    ids = list(open_campaign(name="large").items.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as large:
        result = items_decide_bulk(item_ids=ids, decision="keep", actor=team_lead)
    assert len(result.decided) == 33
    assert len(large.captured_queries) == len(small.captured_queries)
