"""The queue's actions: reject with a reason, counters that follow a decision, sort by SLA due,
bulk approval of standard items (each through approval_record, failures per item)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes.models import Approval, ChangeRequest, OpenStage
from apps.changes.selectors import cab_queue_for, is_standard_change


@pytest.fixture
def quiet_service(team):
    """A tier-4 service: its changes assess as low risk (standard items of the queue)."""
    from tests.factories import ServiceFactory

    return ServiceFactory(slug="docs-site", name="Docs site", owner_team=team, tier=4, compliance_scopes=[])


@pytest.fixture
def standard(make_change, simple_type, quiet_service):
    def make(title="Routine", **fields):
        change = make_change(simple_type, submit=True, title=title, service=quiet_service, **fields)
        assert is_standard_change(change), change.risk_level
        return change

    return make


def post_decide(client, change, **data):
    return client.post(reverse("changes:decide", args=[change.number]), {"from": "queue", **data},
                       HTTP_HX_REQUEST="true")


def test_a_rejection_from_the_queue_needs_a_comment_and_is_recorded_with_it(login, approver, standard):
    change = standard()
    client = login(approver)
    refused = post_decide(client, change, decision="reject", comment="  ")
    assert refused.status_code == 400 and "Say why you reject" in refused.content.decode()
    assert not Approval.objects.exists()
    done = post_decide(client, change, decision="reject", comment="No rollback tested")
    assert done.status_code == 200 and "your rejection is recorded" in done.content.decode()
    approval = Approval.objects.get()
    assert (approval.decision, approval.comment) == ("reject", "No rollback tested")
    assert ChangeRequest.objects.get(pk=change.pk).state == "rejected"


def test_the_queue_offers_reject_with_a_required_reason_on_every_row(login, approver, standard):
    change = standard()
    body = login(approver).get(reverse("changes:queue")).content.decode()
    assert 'name="decision" value="reject"' in body
    assert f'<textarea id="reject-comment-{change.pk}" name="comment" required' in body
    assert f'<label for="reject-comment-{change.pk}">' in body


def test_a_decision_from_the_queue_re_renders_the_counters_out_of_band(login, approver, standard):
    first, second = standard("One"), standard("Two")
    assert cab_queue_for(approver)[1]["total"] == 2
    body = post_decide(login(approver), first, decision="approve").content.decode()
    assert 'id="queue-counts"' in body and 'hx-swap-oob="true"' in body
    assert '<div class="value" id="count-total">1</div>' in body
    assert second.number not in body  # only the decided row and the counters come back


def test_the_queue_lists_the_most_urgent_sla_first_by_default_and_by_planned_start_on_request(
        login, approver, standard):
    soon_planned = standard("Planned soon, due late", planned_start=timezone.now() + timedelta(days=1))
    late_planned = standard("Planned late, due soon", planned_start=timezone.now() + timedelta(days=9))
    OpenStage.objects.filter(change=soon_planned).update(due_at=timezone.now() + timedelta(hours=20))
    OpenStage.objects.filter(change=late_planned).update(due_at=timezone.now() - timedelta(hours=1))  # overdue
    client = login(approver)
    by_due = [c.number for c in client.get(reverse("changes:queue")).context["page_obj"]]
    assert by_due == [late_planned.number, soon_planned.number]
    by_planned = [c.number for c in client.get(reverse("changes:queue"), {"sort": "planned"}).context["page_obj"]]
    assert by_planned == [soon_planned.number, late_planned.number]
    # An unknown sort falls back to the default instead of failing.
    response = client.get(reverse("changes:queue"), {"sort": "nonsense"})
    assert response.status_code == 200 and response.context["sort"] == "due"


def test_only_standard_items_get_a_bulk_checkbox(login, approver, standard, make_change, simple_type):
    routine = standard()
    risky = make_change(simple_type, submit=True, title="For the CAB")
    ChangeRequest.objects.filter(pk=risky.pk).update(cab_required=True)
    assert not is_standard_change(ChangeRequest.objects.get(pk=risky.pk))
    body = login(approver).get(reverse("changes:queue")).content.decode()
    assert f'value="{routine.number}" form="bulk-form"' in body
    assert f'value="{risky.number}" form="bulk-form"' not in body


def test_bulk_approval_approves_each_through_the_service_and_reports_failures_per_item(
        login, approver, standard, make_change, simple_type):
    first, second = standard("One"), standard("Two")
    mine = standard("Adam's own", actor=approver)  # segregation of duties refuses it
    risky = make_change(simple_type, submit=True, title="For the CAB")
    ChangeRequest.objects.filter(pk=risky.pk).update(cab_required=True)
    response = login(approver).post(reverse("changes:queue_bulk_approve"),
                                    {"change": [first.number, second.number, mine.number, risky.number, "CHG-999999"]},
                                    HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    results = {r["number"]: r for r in response.context["results"]}
    assert results[first.number]["ok"] and results[second.number]["ok"]
    assert not results[mine.number]["ok"] and "segregation of duties" in results[mine.number]["error"]
    assert not results[risky.number]["ok"] and "Not a standard change" in results[risky.number]["error"]
    assert not results["CHG-999999"]["ok"]
    assert set(Approval.objects.values_list("change__number", flat=True)) == {first.number, second.number}
    assert ChangeRequest.objects.get(pk=first.pk).state == "approved"
    body = response.content.decode()
    assert "2 of 5" in body and f'id="queue-row-{first.pk}" class="row-done" hx-swap-oob="true"' in body
    assert '<div class="value" id="count-total">1</div>' in body  # the CAB one still waits


def test_bulk_approval_with_nothing_ticked_is_a_400_naming_what_to_do(login, approver):
    response = login(approver).post(reverse("changes:queue_bulk_approve"), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Tick at least one" in response.content.decode()


def test_bulk_approval_respects_a_freeze_like_a_single_approval(login, approver, standard):
    from apps.changes.models import Freeze

    change = standard()
    Freeze.objects.create(name="Year end", reason="Books", starts_at=change.planned_start - timedelta(hours=1),
                          ends_at=change.planned_end + timedelta(hours=1))
    response = login(approver).post(reverse("changes:queue_bulk_approve"), {"change": [change.number]},
                                    HTTP_HX_REQUEST="true")
    [result] = response.context["results"]
    assert not result["ok"] and result["code"] == "freeze_active"
    assert not Approval.objects.exists()


def test_queue_routes_refuse_outsiders_and_send_anonymous_to_sign_in(client, login, standard, outsider):
    change = standard()
    for url in (reverse("changes:queue_bulk_approve"),):
        anonymous = client.post(url, {"change": [change.number]})
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
        assert login(outsider).post(url, {"change": [change.number]}).status_code in (403, 404)
        client.logout()
    assert not Approval.objects.exists()


def test_the_queue_with_many_rows_costs_a_fixed_number_of_queries(login, approver, standard,
                                                                  django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    standard("First")
    client = login(approver)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("changes:queue"))
    for i in range(15):
        standard(f"Routine {i}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("changes:queue"), {"sort": "due"})
    assert len(response.context["page_obj"]) == 16
