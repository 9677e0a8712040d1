"""Nobody takes a change to work without its approvals: not from the Lifecycle panel, not over
POST /api/v1/changes/{id}/transition/, not by withdrawing it to draft first. The panel and the API
ask the same service for the moves a person may make."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.changes.models import Approval, ChangeRequest
from apps.changes.risk import QUESTION_KEYS
from apps.changes.services import approval_record, change_moves_for, change_transition

WORK = ["scheduled", "implementing", "completed"]


# Nothing here depends on the date; the clock is pinned all the same (tests/changes/conftest.py).
pytestmark = pytest.mark.usefixtures("pinned_october")


@pytest.fixture
def critical_prod_change(seeded_types, make_change, environments):
    """A Normal, critical-risk production change to payments-api (tier 1), filed by rita."""
    change = make_change(seeded_types["normal"], environment=environments["prod"],
                         risk_answers={key: True for key in QUESTION_KEYS})
    assert change.risk_level == "critical" and change.environment.is_production
    return change


def _html_move(login, user, change, to_state):
    return login(user).post(reverse("changes:move", args=[change.number]), {"to_state": to_state})


def _api_move(api, user, change, to_state):
    return api(user).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": to_state}, format="json")


def _code(response) -> str:
    """The refusal's code: in the API's error body, or on the re-rendered change page."""
    if "json" in response["Content-Type"]:
        return response.json()["error"]["code"]
    return response.context["action_refusal"].code


def _refused(response, codes) -> bool:
    return response.status_code in (403, 409) and _code(response) in codes


def _nothing_moved(change, state):
    assert ChangeRequest.objects.get(pk=change.pk).state == state
    assert not AuditEvent.objects.filter(object_id=str(change.pk), action__in=[f"change.{s}" for s in WORK]).exists()


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("submitted", [False, True], ids=["draft", "in_review"])
def test_the_requester_cannot_take_a_critical_prod_change_to_work_with_zero_approvals(
        via, submitted, critical_prod_change, requester, login, api):
    change = critical_prod_change
    if submitted:
        from apps.changes.services import change_submit

        change = change_submit(change=change, actor=requester)
    state = change.state
    for to_state in WORK:
        response = _html_move(login, requester, change, to_state) if via == "html" else _api_move(
            api, requester, change, to_state)
        assert response.status_code == 409, (to_state, response.status_code)
        assert _refused(response, {"invalid_transition", "override_required", "change_not_approved"})
    _nothing_moved(change, state)
    assert not Approval.objects.exists()


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("who", ["requester", "implementer", "approver", "release_manager"])
def test_a_change_forced_into_approved_without_approvals_goes_no_further(via, who, critical_prod_change, request, login,
                                                                         api):
    """Even a row pushed into `approved` behind the service's back is refused on the record."""
    person = request.getfixturevalue(who)
    ChangeRequest.objects.filter(pk=critical_prod_change.pk).update(state="approved")
    change = ChangeRequest.objects.get(pk=critical_prod_change.pk)
    for to_state in ("scheduled", "implementing"):
        response = _html_move(login, person, change, to_state) if via == "html" else _api_move(api, person, change,
                                                                                              to_state)
        assert response.status_code in (403, 409), (who, to_state, response.status_code)
        assert _refused(response, {"change_not_approved", "permission_denied"})
    if who == "requester":
        assert change_moves_for(change=change, user=person) == ["cancelled"]
    _nothing_moved(change, "approved")


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("who", ["approver", "implementer", "cab_member"])
def test_team_mates_and_approvers_may_not_move_someone_elses_change(via, who, critical_prod_change, request, login, api):
    person = request.getfixturevalue(who)  # adam and ivan are rita's team mates; cate sits on the CAB
    response = _html_move(login, person, critical_prod_change, "cancelled") if via == "html" else _api_move(
        api, person, critical_prod_change, "cancelled")
    assert response.status_code == 403
    assert ChangeRequest.objects.get(pk=critical_prod_change.pk).state == "draft"


def test_approval_states_are_not_moves(critical_prod_change, requester, api):
    for state in ("approved", "rejected", "in_review"):
        response = _api_move(api, requester, critical_prod_change, state)
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"to_state": ["Use approvals or submit."]}
    assert _api_move(api, requester, critical_prod_change, "nonsense").status_code == 400


def test_withdrawing_to_draft_does_not_open_a_shortcut(make_type, make_change, requester, approver, login, api):
    two = make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(two, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    response = _html_move(login, requester, change, "draft")
    assert response.status_code == 302
    assert Approval.objects.get().voided_at is not None
    for to_state in ("scheduled", "implementing"):
        assert _api_move(api, requester, change, to_state).status_code == 409
    assert ChangeRequest.objects.get(pk=change.pk).state == "draft"


def test_a_release_manager_schedules_an_approved_change_but_does_not_carry_it_out(simple_type, make_change, approver,
                                                                                  release_manager, api):
    change = approval_record(change=make_change(simple_type, submit=True), approver=approver,
                             decision="approve").change
    assert change_moves_for(change=change, user=release_manager) == ["scheduled", "cancelled"]
    refused = _api_move(api, release_manager, change, "implementing")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert _api_move(api, release_manager, change, "scheduled").json()["state"] == "scheduled"


def test_the_lifecycle_panel_offers_what_the_service_allows(simple_type, make_change, approver, requester, login):
    change = make_change(simple_type, submit=True)
    client = login(requester)
    response = client.get(reverse("changes:detail", args=[change.number]))
    offered = [value for value, _ in response.context["targets"]]
    assert offered == change_moves_for(change=change, user=requester) == ["cancelled", "draft"]
    assert 'value="scheduled"' not in response.content.decode()
    change = approval_record(change=change, approver=approver, decision="approve").change
    response = client.get(reverse("changes:detail", args=[change.number]))
    offered = [value for value, _ in response.context["targets"]]
    assert offered == ["scheduled", "implementing", "cancelled"]
    assert client.post(reverse("changes:move", args=[change.number]), {"to_state": "scheduled"}).status_code == 302
    assert ChangeRequest.objects.get(pk=change.pk).state == "scheduled"


def test_an_outsider_is_offered_nothing(simple_type, make_change, approver, outsider, auditor):
    change = approval_record(change=make_change(simple_type, submit=True), approver=approver,
                             decision="approve").change
    assert change_moves_for(change=change, user=auditor) == []
    assert change_moves_for(change=change, user=outsider) == []


def test_a_deployment_path_cannot_start_an_unapproved_change(critical_prod_change, service_account):
    """Delivery, tasks and commands call change_transition directly: the same guards hold."""
    ChangeRequest.objects.filter(pk=critical_prod_change.pk).update(state="scheduled")
    from releaseportal.errors import Conflict

    with pytest.raises(Conflict) as exc:
        change_transition(change=critical_prod_change, to_state="implementing", actor=service_account)
    assert exc.value.code == "change_not_approved"


def test_the_detail_page_costs_a_fixed_number_of_queries(make_type, make_change, person, requester, login,
                                                         django_assert_max_num_queries):
    five = make_type("five", [{"name": "Board", "group": "approver", "rule": "quorum", "quorum": 5}])
    change = make_change(five, submit=True)
    for n in range(5):
        change = approval_record(change=change, approver=person(f"p{n}"), decision="approve").change
    assert change.state == "approved"
    client = login(requester)
    client.get(reverse("changes:detail", args=[change.number]))
    with django_assert_max_num_queries(45):
        response = client.get(reverse("changes:detail", args=[change.number]))
    assert [v for v, _ in response.context["targets"]] == ["scheduled", "implementing", "cancelled"]
