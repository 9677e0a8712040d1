"""Every allowed and every forbidden transition goes through change_transition, its table and its
guards: work (scheduled, implementing) only on the approval record, going back voids approvals
with the reason, and the manual moves are a subset of the table."""

from __future__ import annotations

import itertools

import pytest

from apps.audit.models import AuditEvent
from apps.changes.models import Approval, ChangeRequest, ChangeState
from apps.changes.services import approval_record, change_submit, change_transition
from apps.changes.state_machine import MANUAL_MOVES, TRANSITIONS
from releaseportal.errors import Conflict

ALL = [s.value for s in ChangeState]
ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
FORBIDDEN = sorted((a, b) for a, b in itertools.product(ALL, ALL) if b not in TRANSITIONS.get(a, set()))
# Allowed by the table, but only on the record: tested below, both ways.
GUARDED = {("in_review", "implementing"), ("draft", "scheduled"), ("approved", "scheduled"),
           ("approved", "implementing"), ("scheduled", "implementing"), ("in_review", "approved"),
           ("in_review", "rejected")}


# Nothing here depends on the date; the clock is pinned all the same (tests/changes/conftest.py).
pytestmark = pytest.mark.usefixtures("pinned_october")


def _at(change, state):
    ChangeRequest.objects.filter(pk=change.pk).update(state=state)
    change.refresh_from_db()
    return change


@pytest.fixture
def approved(simple_type, make_change, approver):
    """A change approved the only way there is: by its approvers."""
    change = make_change(simple_type, submit=True)
    return approval_record(change=change, approver=approver, decision="approve").change


@pytest.mark.parametrize("from_state,to_state", [p for p in ALLOWED if p not in GUARDED])
def test_allowed_transition(from_state, to_state, simple_type, make_change, requester):
    change = _at(make_change(simple_type), from_state)
    moved = change_transition(change=change, to_state=to_state, actor=requester, reason="test")
    assert moved.state == to_state
    event = AuditEvent.objects.filter(action=f"change.{to_state}", object_id=str(change.pk)).latest("seq")
    assert event.details["from"] == from_state
    assert change.history.first().state == to_state
    assert change.history.first().history_user == requester


@pytest.mark.parametrize("from_state,to_state", FORBIDDEN)
def test_forbidden_transition(from_state, to_state, simple_type, make_change, requester):
    change = _at(make_change(simple_type), from_state)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state=to_state, actor=requester)
    assert exc.value.code == "invalid_transition"
    change.refresh_from_db()
    assert change.state == from_state


def test_the_manual_moves_are_a_subset_of_the_table():
    for state, targets in MANUAL_MOVES.items():
        assert targets <= TRANSITIONS[state], state
    assert not any({"approved", "rejected", "in_review"} & t for t in MANUAL_MOVES.values())
    assert "scheduled" not in MANUAL_MOVES["draft"]


def test_draft_to_scheduled_is_refused_to_a_change_that_needs_approval(simple_type, make_change, requester):
    change = make_change(simple_type)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state="scheduled", actor=requester)
    assert exc.value.code == "change_not_approved"
    change.refresh_from_db()
    assert change.state == "draft"
    assert not AuditEvent.objects.filter(action="change.scheduled").exists()


@pytest.mark.parametrize("forced,to_state", [("approved", "scheduled"), ("approved", "implementing"),
                                             ("scheduled", "implementing")])
def test_work_is_refused_to_a_change_forced_into_approved_or_scheduled(forced, to_state, simple_type, make_change,
                                                                       requester):
    change = _at(make_change(simple_type, submit=True), forced)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state=to_state, actor=requester)
    assert exc.value.code == "change_not_approved"
    assert ChangeRequest.objects.get(pk=change.pk).state == forced


@pytest.mark.parametrize("path", [["scheduled", "implementing"], ["implementing"]])
def test_an_approved_change_goes_to_work(path, approved, requester):
    change = approved
    for state in path:
        change = change_transition(change=change, to_state=state, actor=requester)
        assert change.state == state


def test_work_is_refused_when_the_content_changed_behind_the_approvals(approved, requester):
    ChangeRequest.objects.filter(pk=approved.pk).update(rollback_plan="Edited without the service")
    with pytest.raises(Conflict) as exc:
        change_transition(change=approved, to_state="scheduled", actor=requester)
    assert exc.value.code == "change_not_approved"


def test_in_review_to_approved_or_rejected_needs_the_decisions(simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    for state, code in (("approved", "change_not_approved"), ("rejected", "not_rejected")):
        with pytest.raises(Conflict) as exc:
            change_transition(change=change, to_state=state, actor=approver)
        assert exc.value.code == code
    assert ChangeRequest.objects.get(pk=change.pk).state == "in_review"


def test_in_review_to_implementing_needs_an_emergency_override(simple_type, make_change, requester):
    change = make_change(simple_type, submit=True)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state="implementing", actor=requester)
    assert exc.value.code == "override_required"


def test_a_standard_change_is_scheduled_at_submit_from_an_approved_template(seeded_types, make_change, requester,
                                                                           release_manager):
    from apps.change_types.services import template_approve, template_propose

    template = template_propose(actor=requester, slug="cert-rotation", name="Certificate rotation",
                                description="Rotate with cert-manager")
    template = template_approve(template=template, actor=release_manager)
    change = make_change(seeded_types["standard"], standard_template=template)
    change = change_submit(change=change, actor=requester)
    assert change.state == "scheduled"
    assert change_transition(change=change, to_state="implementing", actor=requester).state == "implementing"


def test_withdrawing_to_draft_voids_the_live_approvals_with_the_reason(make_type, make_change, approver, requester):
    two = make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(two, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    change = change_transition(change=change, to_state="draft", actor=requester, reason="Plan needs rework")
    assert change.state == "draft"
    approval = Approval.objects.get()
    assert approval.voided_at is not None
    assert "withdrawn to draft" in approval.void_reason and "rita" in approval.void_reason
    assert "Plan needs rework" in approval.void_reason
    assert approval.history.first().history_change_reason == "voided"
    assert approval.history.first().history_user == requester
    event = AuditEvent.objects.filter(action="change.draft", object_id=str(change.pk)).get()
    assert event.details["approvals_voided"] == 1 and "withdrawn to draft" in event.details["void_reason"]
    assert "withdrawn to draft" in change.history.first().history_change_reason
    assert not change.open_stages.exists()
    # Submitted again, it needs every approval afresh: the voided one counts for nothing.
    change = change_submit(change=change, actor=requester)
    assert change.state == "in_review"
    assert change.open_stages.count() == 1


def test_withdrawing_with_no_approvals_voids_nothing_and_says_so(simple_type, make_change, requester):
    change = make_change(simple_type, submit=True)
    change = change_transition(change=change, to_state="draft", actor=requester)
    event = AuditEvent.objects.filter(action="change.draft", object_id=str(change.pk)).get()
    assert "approvals_voided" not in event.details


def test_timestamps_and_outcome_are_recorded(approved, requester):
    change = change_transition(change=approved, to_state="implementing", actor=requester)
    change = change_transition(change=change, to_state="failed", actor=requester)
    change.refresh_from_db()
    assert change.implementation_started_at and change.implemented_at
    assert change.outcome == "failed"
