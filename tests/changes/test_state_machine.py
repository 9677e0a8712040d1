"""Every allowed and every forbidden transition goes through change_transition and its table."""

from __future__ import annotations

import itertools

import pytest

from apps.audit.models import AuditEvent
from apps.changes.models import ChangeRequest, ChangeState
from apps.changes.services import change_transition
from apps.changes.state_machine import TRANSITIONS
from releaseportal.errors import Conflict

ALL = [s.value for s in ChangeState]
ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
FORBIDDEN = sorted((a, b) for a, b in itertools.product(ALL, ALL) if b not in TRANSITIONS.get(a, set()))
# Allowed by the table but guarded by a rule tested separately.
GUARDED = {("in_review", "implementing")}


def _at(change, state):
    ChangeRequest.objects.filter(pk=change.pk).update(state=state)
    change.refresh_from_db()
    return change


@pytest.mark.parametrize("from_state,to_state", [p for p in ALLOWED if p not in GUARDED])
def test_allowed_transition(from_state, to_state, simple_type, make_change, requester):
    change = _at(make_change(simple_type), from_state)
    change_transition(change=change, to_state=to_state, actor=requester, reason="test")
    change.refresh_from_db()
    assert change.state == to_state
    event = AuditEvent.objects.filter(action=f"change.{to_state}", object_id=str(change.pk)).latest("seq")
    assert event.details["from"] == from_state
    assert change.history.first().state == to_state


@pytest.mark.parametrize("from_state,to_state", FORBIDDEN)
def test_forbidden_transition(from_state, to_state, simple_type, make_change, requester):
    change = _at(make_change(simple_type), from_state)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state=to_state, actor=requester)
    assert exc.value.code == "invalid_transition"
    change.refresh_from_db()
    assert change.state == from_state


def test_in_review_to_implementing_needs_an_emergency_override(simple_type, make_change, requester):
    change = make_change(simple_type, submit=True)
    with pytest.raises(Conflict) as exc:
        change_transition(change=change, to_state="implementing", actor=requester)
    assert exc.value.code == "override_required"


def test_timestamps_and_outcome_are_recorded(simple_type, make_change, requester):
    change = _at(make_change(simple_type), "scheduled")
    change_transition(change=change, to_state="implementing", actor=requester)
    change_transition(change=change, to_state="failed", actor=requester)
    change.refresh_from_db()
    assert change.implementation_started_at and change.implemented_at
    assert change.outcome == "failed"
