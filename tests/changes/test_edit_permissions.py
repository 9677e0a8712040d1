"""Who may edit a change (permissions.edit_scope, enforced by change_update): its requester and
implementer; a release manager the schedule only; never a team mate. An edit after approval voids
the approvals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.changes.models import Approval, ChangeRequest
from apps.changes.permissions import can_edit, edit_scope
from apps.changes.services import approval_record, change_update
from releaseportal.errors import NotAllowed

# Nothing here depends on the date; the clock is pinned all the same (tests/changes/conftest.py).
pytestmark = pytest.mark.usefixtures("pinned_october")


@pytest.fixture
def approved(simple_type, make_change, approver, implementer):
    """rita's change, implemented by someone else, approved by adam (both rita's team mates)."""
    from tests.factories import UserFactory

    paul = UserFactory(username="paul", roles=("requester",))
    change = make_change(simple_type, submit=True, implementer=paul)
    return approval_record(change=change, approver=approver, decision="approve").change


def _form_data(client, change):
    form = client.get(reverse("changes:edit", args=[change.number])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["planned_start"] = change.planned_start.strftime("%Y-%m-%dT%H:%M")
    data["planned_end"] = change.planned_end.strftime("%Y-%m-%dT%H:%M")
    return data


@pytest.mark.parametrize("who", ["implementer", "approver", "cab_member", "auditor"])
def test_team_mates_and_others_may_not_edit_someone_elses_change(who, approved, request, login, api):
    person = request.getfixturevalue(who)  # ivan and adam are rita's team mates
    assert edit_scope(person, approved) == frozenset()
    assert login(person).get(reverse("changes:edit", args=[approved.number])).status_code == 403
    response = api(person).patch(f"/api/v1/changes/{approved.pk}/", {"title": "Mine now"}, format="json")
    assert response.status_code == 403
    with pytest.raises(NotAllowed):
        change_update(change=approved, actor=person, title="Mine now")
    assert ChangeRequest.objects.get(pk=approved.pk).title == "Upgrade the widget"
    assert Approval.objects.get().voided_at is None


def test_a_team_mate_cannot_submit_someone_elses_draft(simple_type, make_change, implementer, login, api):
    change = make_change(simple_type)
    assert login(implementer).post(reverse("changes:submit", args=[change.number])).status_code == 403
    assert api(implementer).post(f"/api/v1/changes/{change.pk}/submit/").status_code == 403
    assert ChangeRequest.objects.get(pk=change.pk).state == "draft"


def test_the_implementer_edits_and_the_edit_voids_the_approval(approved, api):
    paul = approved.implementer
    assert can_edit(paul, approved)
    response = api(paul).patch(f"/api/v1/changes/{approved.pk}/", {"rollback_plan": "Restore the snapshot"},
                               format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "in_review"
    assert Approval.objects.get().voided_at is not None


def test_a_release_manager_may_reschedule_but_not_rewrite(approved, release_manager, api, login):
    assert edit_scope(release_manager, approved) == {"planned_start", "planned_end"}
    refused = api(release_manager).patch(f"/api/v1/changes/{approved.pk}/", {"title": "Renamed", "rollback_plan": "x"},
                                         format="json")
    assert refused.status_code == 403
    assert set(refused.json()["error"]["fields"]) == {"title", "rollback_plan"}
    assert Approval.objects.get().voided_at is None
    start = approved.planned_start + timedelta(days=1)
    moved = api(release_manager).patch(f"/api/v1/changes/{approved.pk}/", {
        "planned_start": start.isoformat(), "planned_end": (start + timedelta(hours=1)).isoformat()}, format="json")
    assert moved.status_code == 200, moved.content
    # Rescheduling is a change to what was approved: the approval is void, the change back in review.
    assert moved.json()["state"] == "in_review"
    assert Approval.objects.get().voided_at is not None


def test_the_release_managers_edit_page_changes_only_the_schedule(approved, release_manager, login):
    client = login(release_manager)
    page = client.get(reverse("changes:edit", args=[approved.number]))
    assert page.status_code == 200
    form = page.context["form"]
    assert not form.fields["planned_start"].disabled and form.fields["title"].disabled
    data = _form_data(client, approved)
    start = approved.planned_start + timedelta(days=2)
    data.update(title="Renamed by the release manager", description="A forged plan",
                planned_start=start.strftime("%Y-%m-%dT%H:%M"),
                planned_end=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    response = client.post(reverse("changes:edit", args=[approved.number]), data)
    assert response.status_code == 302
    change = ChangeRequest.objects.get(pk=approved.pk)
    assert change.title == "Upgrade the widget" and change.description == ""
    assert change.planned_start.date() == start.date()
    assert change.state == "in_review"


def test_a_team_mate_cannot_open_the_edit_page_of_an_approved_change(approved, implementer, login):
    """alice and Paul's approved change: the edit page is closed to everyone but its people."""
    response = login(implementer).get(reverse("changes:edit", args=[approved.number]))
    assert response.status_code == 403


def test_a_closed_change_is_not_editable_by_its_requester(simple_type, make_change, requester, login, api):
    change = make_change(simple_type)
    ChangeRequest.objects.filter(pk=change.pk).update(state="closed")
    assert login(requester).get(reverse("changes:edit", args=[change.number])).status_code == 409
    response = api(requester).patch(f"/api/v1/changes/{change.pk}/", {"title": "Late"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_editable"
