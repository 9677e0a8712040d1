"""A production change goes to review only with a rollback plan and criteria; an emergency change
may start without them but cannot close without them. An override lasts 1 to 72 hours, checked in
one place for the page and the API. Services hand back the locked change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.changes.models import ChangeRequest, EmergencyOverride
from apps.changes.services import (
    change_submit,
    change_transition,
    change_update,
    emergency_override_grant,
    post_mortem_record,
)
from releaseportal.errors import Conflict, InvalidInput

# Nothing here depends on the date; the clock is pinned all the same (tests/changes/conftest.py).
pytestmark = pytest.mark.usefixtures("pinned_october")


@pytest.mark.parametrize("missing", ["rollback_plan", "rollback_criteria"])
def test_a_production_change_is_not_submitted_without_its_rollback(missing, simple_type, make_change, environments,
                                                                  requester, login, api):
    blank = {"rollback_plan": ""} if missing == "rollback_plan" else {"rollback_criteria": {}}
    change = make_change(simple_type, environment=environments["prod"], **blank)
    with pytest.raises(InvalidInput) as exc:
        change_submit(change=change, actor=requester)
    assert set(exc.value.fields) == {missing}
    response = api(requester).post(f"/api/v1/changes/{change.pk}/submit/")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {missing}
    page = login(requester).post(reverse("changes:submit", args=[change.number]))
    assert page.status_code == 400 and missing in page.context["action_refusal"].fields
    assert ChangeRequest.objects.get(pk=change.pk).state == "draft"


def test_a_staging_change_needs_no_rollback_to_be_submitted(simple_type, make_change, requester):
    change = make_change(simple_type, rollback_plan="", rollback_criteria={})
    assert change_submit(change=change, actor=requester).state == "in_review"


def test_a_submitted_production_change_cannot_lose_its_rollback_plan(simple_type, make_change, environments,
                                                                      requester, api):
    change = make_change(simple_type, submit=True, environment=environments["prod"])
    response = api(requester).patch(f"/api/v1/changes/{change.pk}/", {"rollback_plan": "  "}, format="json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"rollback_plan"}
    assert ChangeRequest.objects.get(pk=change.pk).rollback_plan == "Redeploy previous"


def test_an_emergency_change_starts_without_a_rollback_but_cannot_close_without_one(
        seeded_types, make_change, environments, requester, release_manager, api):
    change = make_change(seeded_types["emergency"], submit=True, environment=environments["prod"], rollback_plan="",
                         rollback_criteria={})
    assert change.state == "in_review"
    change = emergency_override_grant(change=change, actor=release_manager, reason="Checkout down").change
    change = change_transition(change=change, to_state="completed", actor=requester)
    change = post_mortem_record(change=change, actor=requester, text="Expired certificate")
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state="closed", actor=requester)
    assert exc.value.code == "rollback_plan_required"
    assert set(exc.value.fields) == {"rollback_plan", "rollback_criteria"}
    refused = api(requester).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": "closed"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rollback_plan_required"
    # After the work, only the rollback can still be written down.
    with pytest.raises(Conflict):
        change_update(change=change, actor=requester, title="Renamed afterwards")
    change = change_update(change=change, actor=requester, rollback_plan="Redeploy the previous image",
                           rollback_criteria={"error_rate_pct": 2})
    assert change_transition(change=change, to_state="closed", actor=requester).state == "closed"


@pytest.mark.parametrize("hours", ["10000", "99999999999", "0", "-3", "abc", "1.5", "73", "٣"])
def test_the_override_page_refuses_hours_outside_1_to_72(hours, seeded_types, make_change, release_manager, login):
    change = make_change(seeded_types["emergency"], submit=True)
    response = login(release_manager).post(reverse("changes:override", args=[change.number]),
                                           {"reason": "Down", "hours": hours})
    assert response.status_code == 400
    assert "hours" in response.context["action_refusal"].fields
    assert not EmergencyOverride.objects.exists()
    assert ChangeRequest.objects.get(pk=change.pk).state == "in_review"


@pytest.mark.parametrize("hours", [10000, 99999999999, 0, 73])
def test_the_override_api_refuses_hours_outside_1_to_72(hours, seeded_types, make_change, release_manager, api):
    change = make_change(seeded_types["emergency"], submit=True)
    response = api(release_manager).post(f"/api/v1/changes/{change.pk}/emergency-override/",
                                         {"reason": "Down", "hours": hours}, format="json")
    assert response.status_code == 400
    assert "hours" in response.json()["error"]["fields"]
    assert not EmergencyOverride.objects.exists()


def test_an_override_lasts_the_hours_asked_or_the_types_default(seeded_types, make_change, release_manager, login):
    change = make_change(seeded_types["emergency"], submit=True)
    login(release_manager).post(reverse("changes:override", args=[change.number]), {"reason": "Down", "hours": "72"})
    override = EmergencyOverride.objects.get()
    assert (override.expires_at - override.authorised_at).total_seconds() == 72 * 3600
    other = make_change(seeded_types["emergency"], submit=True)
    override = emergency_override_grant(change=other, actor=release_manager, reason="Down", hours="")
    assert (override.expires_at - override.authorised_at).total_seconds() == 24 * 3600


def test_services_return_the_locked_change_and_leave_the_callers_instance_alone(simple_type, make_change, requester,
                                                                                other_team):
    from tests.factories import ServiceFactory

    change = make_change(simple_type)
    assert change.service.slug == "payments-api"  # the caller's instance has its service cached
    sso = ServiceFactory(slug="sso", owner_team=other_team)
    updated = change_update(change=change, actor=requester, service=sso)
    assert updated is not change
    assert updated.service == sso and updated.service_id == sso.pk
    assert change.service_id != sso.pk  # untouched, not half-updated with a stale relation
    submitted = change_submit(change=updated, actor=requester)
    assert submitted.state == "in_review" and updated.state == "draft"


def test_a_started_emergency_change_offers_no_edit_link_that_would_refuse(seeded_types, make_change, environments,
                                                                          requester, release_manager, login):
    """A release manager edits only the schedule, which a started emergency change no longer
    offers (only its rollback): the change page must not show an Edit link that answers 409
    (found by the persona link checker, tests/journeys/crawl.py)."""
    change = make_change(seeded_types["emergency"], submit=True, environment=environments["prod"], rollback_plan="",
                         rollback_criteria={})
    change = emergency_override_grant(change=change, actor=release_manager, reason="Checkout down").change
    change = change_transition(change=change, to_state="completed", actor=requester)
    detail, edit = reverse("changes:detail", args=[change.number]), reverse("changes:edit", args=[change.number])
    client = login(release_manager)
    assert f'href="{edit}"' not in client.get(detail).content.decode()
    assert client.get(edit).status_code == 409
    client = login(requester)
    assert f'href="{edit}"' in client.get(detail).content.decode()
    assert client.get(edit).status_code == 200
