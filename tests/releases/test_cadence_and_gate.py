"""Cadence windows, the off-cadence guard on a change's move to scheduled (and the guard registry
failing closed), the plan's waves, and the gate rule releases.dependencies."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.changes import services as change_services
from apps.changes import transition_guards
from apps.releases import cadence, planning, services
from apps.releases.models import Cadence
from tests.delivery.test_gate import deny_codes

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=UTC)


def train_like(kind, anchor=None, hours=24, rrule=""):
    return SimpleNamespace(cadence=kind, cadence_anchor=anchor or at(2026, 1, 1, 8), window_hours=hours, rrule=rrule)


@pytest.mark.parametrize(("kind", "rrule", "moment", "on"), [
    (Cadence.CONTINUOUS, "", at(2026, 3, 3, 3), True),
    (Cadence.WEEKLY, "", at(2026, 1, 8, 8), True),            # a week after the anchor, window opens
    (Cadence.WEEKLY, "", at(2026, 1, 9, 7, 59), True),        # still inside the 24 h window
    (Cadence.WEEKLY, "", at(2026, 1, 9, 8), False),           # window closed
    (Cadence.MONTHLY, "", at(2026, 2, 1, 12), True),
    (Cadence.MONTHLY, "", at(2026, 2, 15, 12), False),
    (Cadence.QUARTERLY, "", at(2026, 4, 1, 9), True),
    (Cadence.QUARTERLY, "", at(2026, 2, 1, 9), False),
    (Cadence.QUARTERLY, "", at(2025, 12, 31, 9), False),      # before the first occurrence
    (Cadence.CUSTOM, "FREQ=WEEKLY;BYDAY=TU", at(2026, 1, 6, 9), True),
    (Cadence.CUSTOM, "FREQ=WEEKLY;BYDAY=TU", at(2026, 1, 7, 9), False),
])
def test_a_moment_is_on_cadence_inside_a_window(kind, rrule, moment, on):
    assert cadence.is_on_cadence(train_like(kind, rrule=rrule), moment) is on


@pytest.mark.parametrize("text", ["", "FREQ=NOPE", "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "FREQ=HOURLY",
                                  "FREQ=DAILY;UNTIL=20200101T000000Z", "FREQ=WEEKLY;BYDAY=XX"])
def test_bad_rrules_are_refused(text):
    from releaseportal.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        cadence.validate_rrule(text, at(2026, 1, 1))
    assert refused.value.code == "invalid_rrule"


def test_waves_are_topological_layers_and_a_cycle_is_a_path():
    before = planning.release_graph([1, 2, 3, 4], [(2, 1), (3, 1), (4, 2), (4, 3)])
    assert planning.waves(before) == [[1], [2, 3], [4]]
    assert planning.find_cycle([(1, 2), (2, 3), (3, 1)]) in ([1, 2, 3, 1], [2, 3, 1, 2], [3, 1, 2, 3])
    assert planning.find_cycle([(1, 2), (2, 3)]) is None


# --- the off-cadence guard ----------------------------------------------------------------------

@pytest.fixture
def quarterly(release_manager, services_three, clock):
    clock("2026-06-16 10:00")
    return services.train_create(actor=release_manager, slug="regulated", name="Regulated", cadence="quarterly",
                                 reason="regulatory", signoff_roles=["product"], cadence_anchor=at(2026, 1, 1, 8),
                                 window_hours=48, services=[services_three["payments-api"]])


def test_an_off_cadence_production_change_is_not_scheduled_without_a_justification(quarterly, make_change,
                                                                                    requester):
    off = make_change(state="approved", env="prod", planned_start=at(2026, 6, 20, 9),
                      planned_end=at(2026, 6, 20, 10))
    with pytest.raises(Exception) as refused:
        change_services.change_transition(change=off, to_state="scheduled", actor=requester)
    assert refused.value.code == "off_cadence_justification_required"
    off.refresh_from_db()
    assert off.state == "approved"
    services.off_cadence_justification_record(change=off, text="PCI fix cannot wait", actor=requester)
    assert change_services.change_transition(change=off, to_state="scheduled", actor=requester).state == "scheduled"


def test_on_cadence_staging_and_trainless_changes_are_not_held(quarterly, make_change, requester, services_three):
    on = make_change(state="approved", env="prod", planned_start=at(2026, 7, 1, 9), planned_end=at(2026, 7, 1, 10))
    staging = make_change(state="approved", env="staging", planned_start=at(2026, 6, 20, 9),
                          planned_end=at(2026, 6, 20, 10))
    trainless = make_change(state="approved", env="prod", svc=services_three["web"],
                            planned_start=at(2026, 6, 20, 9), planned_end=at(2026, 6, 20, 10))
    for change in (on, staging, trainless):
        assert change_services.change_transition(change=change, to_state="scheduled", actor=requester).state == \
            "scheduled"


def test_the_justification_api(quarterly, make_change, api_client_for, requester, approver):
    off = make_change(state="approved", env="prod", planned_start=at(2026, 6, 20, 9), planned_end=at(2026, 6, 20, 10))
    url = f"/api/v1/changes/{off.number}/off-cadence-justification/"
    assert api_client_for(approver).put(url, {"justification": "x"}, format="json").status_code == 403
    assert api_client_for(requester).put(url, {"justification": " "}, format="json").status_code == 400
    response = api_client_for(requester).put(url, {"justification": "Regulator deadline"}, format="json")
    assert response.status_code == 200 and off.off_cadence_justification.text == "Regulator deadline"


def test_a_missing_guard_refuses_and_fails_the_system_check(make_change, requester, settings):
    change = make_change(state="approved", env="prod")
    guard = transition_guards.unregister_transition_guard("releases.cadence")
    try:
        refusal = change_services.transition_refusal(change, "scheduled")
        assert refusal is not None and refusal.code == "transition_guard_missing"
        with pytest.raises(SystemCheckError, match="changes.E002"):
            call_command("check")
    finally:
        transition_guards.register_transition_guard(guard)
    assert change_services.transition_refusal(change, "scheduled") is None


def test_a_guard_that_raises_refuses_the_move(make_change, requester):
    change = make_change(state="approved", env="prod")
    guard = transition_guards.unregister_transition_guard("releases.cadence")

    def broken(change, to_state):
        raise RuntimeError("boom")

    transition_guards.register_transition_guard(transition_guards.TransitionGuard(
        name="releases.cadence", to_states=guard.to_states, check=broken))
    try:
        refusal = change_services.transition_refusal(change, "scheduled")
        assert refusal is not None and refusal.code == "transition_guard_error"
    finally:
        transition_guards.register_transition_guard(guard)
    assert change_services.transition_refusal(change, "scheduled") is None


# --- the gate rule ------------------------------------------------------------------------------



def test_the_gate_refuses_a_service_whose_release_dependencies_are_not_deployed(
        check, good_artifact, make_change, release, release_manager, services_three, environments):
    from apps.delivery.models import Deployment

    services.dependencies_set(service=services_three["payments-api"], depends_on=[services_three["ledger"]],
                              actor=release_manager)
    ledger_change = make_change(state="approved", env="prod", svc=services_three["ledger"])
    payments_change = make_change()
    for change in (ledger_change, payments_change):
        services.release_change_add(release=release, change=change, actor=release_manager)
    result = check(good_artifact, payments_change)
    assert result["decision"] == "deny" and deny_codes(result) == {"dependency_not_deployed"}
    assert "ledger" in next(r["message"] for r in result["reasons"] if r["code"] == "dependency_not_deployed")
    # Ledger reached staging only, and another ledger build (not the release's change) reached prod: still no.
    Deployment.objects.create(service=services_three["ledger"], environment=environments["staging"],
                              change=ledger_change, status="succeeded")
    Deployment.objects.create(service=services_three["ledger"], environment=environments["prod"], status="succeeded")
    assert deny_codes(check(good_artifact, payments_change)) == {"dependency_not_deployed"}
    Deployment.objects.create(service=services_three["ledger"], environment=environments["prod"],
                              change=ledger_change, status="succeeded")
    assert check(good_artifact, payments_change)["decision"] == "allow"


def test_a_change_outside_any_release_is_not_held_and_the_code_is_overridable(check, good_artifact,
                                                                              make_change):
    from apps.delivery.gate import overridable

    assert check(good_artifact, make_change())["decision"] == "allow"
    assert overridable("dependency_not_deployed") is True


def test_a_cancelled_release_holds_nothing(check, good_artifact, make_change, release, release_manager,
                                          services_three):
    services.dependencies_set(service=services_three["payments-api"], depends_on=[services_three["ledger"]],
                              actor=release_manager)
    change = make_change()
    services.release_change_add(release=release, change=change, actor=release_manager)
    services.release_transition(release=release, to_state="cancelled", actor=release_manager)
    assert check(good_artifact, change)["decision"] == "allow"
