"""Evidence packs read the named models of the apps they prove, and a row that does not say
what the pack needs raises instead of passing the control by a guess."""

from __future__ import annotations

import pytest

from apps.audit.packs import sources
from apps.audit.packs.control import classify


def test_packs_read_the_named_approval_override_gate_and_evidence_models():
    from apps.changes.models import Approval, EmergencyOverride
    from apps.delivery.models import Evidence, GateDecision

    assert sources.approval_models() == ((Approval, "change"),)
    assert sources.emergency_models() == ((EmergencyOverride, "change"),)
    assert sources.gate_models() == ((GateDecision, "change"),)
    assert sources.evidence_models() == ((Evidence, "artifact"),)


def _approval(**fields):
    return {"voided_at": None, "decision": "approve", "approver_id": 7, "on_behalf_of_id": None, **fields}


def test_only_a_standing_approve_decision_names_its_approvers():
    assert sources.approving_user_ids(_approval()) == [7]
    assert sources.approving_user_ids(_approval(on_behalf_of_id=9)) == [7, 9]
    assert sources.approving_user_ids(_approval(decision="reject")) == []
    assert sources.approving_user_ids(_approval(voided_at="2026-10-01T00:00:00Z")) == []


def test_an_approval_row_without_its_decision_raises_instead_of_counting_as_approved():
    with pytest.raises(KeyError):
        sources.approving_user_ids({"voided_at": None, "approver_id": 7})


def test_an_override_row_without_its_retrospective_approval_field_raises():
    assert sources.retrospectively_approved([]) is None
    assert sources.retrospectively_approved([{"retro_approved_at": None}]) is False
    assert sources.retrospectively_approved([{"retro_approved_at": None}, {"retro_approved_at": "x"}]) is True
    with pytest.raises(KeyError):
        sources.retrospectively_approved([{"retroactively_approved_on": "x"}])


def test_the_control_flags_self_approval_from_the_named_fields():
    change = {"approved_at": 1, "submitted_at": 0, "requester_id": 7, "implementer_id": None, "service_id": 1,
              "change_type__is_emergency": False}
    deployment = {"started_at": 2, "service_id": 1, "is_unauthorized": False}
    assert classify(deployment, change, [_approval()], []) == ["self_approved"]
    assert classify(deployment, change, [_approval(approver_id=8)], []) == []
