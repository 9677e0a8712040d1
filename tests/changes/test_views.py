"""Pages: queue, list, detail, forms, htmx decisions, and who gets nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes.models import Approval, ChangeRequest


def test_queue_shows_what_waits_for_me_with_counts(login, approver, simple_type, make_change, django_assert_max_num_queries):
    changes = [make_change(simple_type, submit=True, title=f"Change {i}") for i in range(6)]
    make_change(simple_type, title="Draft not waiting")
    client = login(approver)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("changes:queue"))
    assert response.status_code == 200
    body = response.content.decode()
    assert all(c.number in body for c in changes)
    assert "Draft not waiting" not in body
    assert response.context["counts"]["total"] == 6


def test_queue_filters(login, approver, simple_type, make_change, other_team):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="sso", owner_team=other_team)
    make_change(simple_type, submit=True, title="Payments one")
    make_change(simple_type, submit=True, title="SSO one", service=other)
    response = login(approver).get(reverse("changes:queue") + "?service=sso")
    assert response.context["counts"]["total"] == 1
    assert "SSO one" in response.content.decode()


def test_change_list_costs_a_fixed_number_of_queries(login, requester, simple_type, make_change,
                                                     django_assert_max_num_queries):
    for i in range(10):
        make_change(simple_type, submit=i % 2 == 0)
    client = login(requester)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("changes:list") + "?state=in_review")
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == 5


def test_detail_shows_plan_risk_conflicts_and_timeline(login, approver, simple_type, make_change):
    change = make_change(simple_type, submit=True, description="Step one: drain traffic")
    body = login(approver).get(reverse("changes:detail", args=[change.number])).content.decode()
    for text in ("Step one: drain traffic", "Risk:", "Schedule conflicts", "Approval", "rule: any", "1 more needed",
                 'value="approve"'):
        assert text in body


def test_requester_sees_no_approve_button_and_a_forged_post_is_refused(login, requester, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    client = login(requester)
    body = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'value="approve"' not in body
    assert "segregation of duties" in body
    forged = client.post(reverse("changes:decide", args=[change.number]), {"decision": "approve"})
    assert forged.status_code == 403
    assert not Approval.objects.exists()


def test_htmx_decision_swaps_the_panel(login, approver, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    response = login(approver).post(reverse("changes:decide", args=[change.number]),
                                    {"decision": "approve", "comment": "LGTM"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="approval-panel"' in body and "LGTM" in body and 'hx-swap-oob="true"' in body
    change.refresh_from_db()
    assert change.state == "approved"


def test_htmx_decision_from_the_queue_replaces_the_row(login, approver, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    response = login(approver).post(reverse("changes:decide", args=[change.number]),
                                    {"decision": "approve", "from": "queue"}, HTTP_HX_REQUEST="true")
    assert f'id="queue-row-{change.pk}"' in response.content.decode()
    assert "Approved" in response.content.decode()


def test_create_form_validates_clearly(login, requester, simple_type, service, environments):
    client = login(requester)
    start = timezone.now() + timedelta(days=1)
    response = client.post(reverse("changes:create"), {
        "title": "", "change_type": "simple", "service": "payments-api", "environment": "staging",
        "planned_start": start.strftime("%Y-%m-%dT%H:%M"), "planned_end": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "rollout_strategy": "rolling"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "title" in errors and "planned_end" in errors
    assert not ChangeRequest.objects.exists()
    response = client.post(reverse("changes:create"), {
        "title": "Add index", "change_type": "simple", "service": "payments-api", "environment": "staging",
        "planned_start": start.strftime("%Y-%m-%dT%H:%M"), "planned_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "rollout_strategy": "rolling", "risk_database_change": "on", "description": "CREATE INDEX CONCURRENTLY"})
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and change.risk_answers["database_change"] is True


def test_edit_after_approval_shows_the_reason(login, requester, approver, simple_type, make_change):
    from apps.changes.services import approval_record

    change = make_change(simple_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    client = login(requester)
    form = client.get(reverse("changes:edit", args=[change.number])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["planned_start"] = change.planned_start.strftime("%Y-%m-%dT%H:%M")
    data["planned_end"] = change.planned_end.strftime("%Y-%m-%dT%H:%M")
    data["description"] = "A new plan"
    data["compliance_scopes"] = change.compliance_scopes
    response = client.post(reverse("changes:edit", args=[change.number]), data, follow=True)
    assert "Back in review" in response.content.decode()
    change.refresh_from_db()
    assert change.state == "in_review"


def test_submit_and_move_buttons(login, requester, simple_type, make_change):
    change = make_change(simple_type)
    client = login(requester)
    client.post(reverse("changes:submit", args=[change.number]))
    change.refresh_from_db()
    assert change.state == "in_review"
    client.post(reverse("changes:move", args=[change.number]), {"to_state": "cancelled"})
    change.refresh_from_db()
    assert change.state == "cancelled"


def test_override_and_post_mortem_pages(login, release_manager, requester, seeded_types, make_change):
    change = make_change(seeded_types["emergency"], submit=True)
    login(release_manager).post(reverse("changes:override", args=[change.number]), {"reason": "Down", "hours": "12"})
    change.refresh_from_db()
    assert change.state == "implementing"
    login(requester).post(reverse("changes:post_mortem", args=[change.number]), {"post_mortem": "Cert expired"})
    change.refresh_from_db()
    assert change.post_mortem_at is not None


def test_dashboard_panels(login, release_manager, approver, seeded_types, make_change, simple_type):
    from apps.changes.services import emergency_override_grant

    change = make_change(seeded_types["emergency"], submit=True)
    emergency_override_grant(change=change, actor=release_manager, reason="Down")
    change.refresh_from_db()
    type(change).objects.filter(pk=change.pk).update(post_mortem_due_at=timezone.now() - timedelta(days=1))
    make_change(simple_type, submit=True)
    body = login(release_manager).get("/").content.decode()
    assert "Open emergency overrides" in body and change.number in body and "Overdue post-mortems" in body
    body = login(approver).get("/").content.decode()
    assert "Waiting for my decision" in body


PAGES = ["changes:list", "changes:queue", "changes:create", "changes:calendar", "changes:schedule",
         "changes:delegations", "changes:cab_meetings"]
CHANGE_PAGES = ["changes:detail", "changes:edit"]
CHANGE_POSTS = ["changes:submit", "changes:move", "changes:decide", "changes:override", "changes:post_mortem"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_refuse_anonymous_and_outsiders(client, outsider, name, db):
    url = reverse(name)
    assert client.get(url).status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("name", CHANGE_PAGES + CHANGE_POSTS)
def test_change_pages_refuse_anonymous_and_outsiders(client, outsider, simple_type, make_change, name):
    change = make_change(simple_type, submit=True)
    url = reverse(name, args=[change.number])
    method = client.post if name in CHANGE_POSTS else client.get
    response = method(url, {"decision": "approve", "to_state": "cancelled", "reason": "x", "post_mortem": "x"})
    assert response.status_code == 302 and "/login" in response["Location"]
    client.force_login(outsider)
    response = method(url, {"decision": "approve", "to_state": "cancelled", "reason": "x", "post_mortem": "x"})
    assert response.status_code in (403, 404)
    change.refresh_from_db()
    assert change.state == "in_review" and not Approval.objects.exists()


def test_members_who_may_not_edit_get_403(client, cab_member, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    client.force_login(cab_member)
    assert client.get(reverse("changes:edit", args=[change.number])).status_code == 403
    assert client.post(reverse("changes:move", args=[change.number]), {"to_state": "cancelled"}).status_code == 403


def test_service_page_lists_its_changes(login, requester, simple_type, make_change, service):
    change = make_change(simple_type, submit=True, title="Upcoming thing")
    body = login(requester).get(reverse("catalog:service", args=[service.slug])).content.decode()
    assert change.number in body and "Upcoming thing" in body


def test_no_approve_button_without_the_production_privilege(login, approver, simple_type, make_change, environments,
                                                            service):
    from guardian.shortcuts import assign_perm

    change = make_change(simple_type, submit=True, environment=environments["prod"])
    client = login(approver)
    body = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'value="approve"' not in body and "approver privilege" in body
    assign_perm("catalog.approve_service_changes", approver, service)
    body = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'value="approve"' in body
