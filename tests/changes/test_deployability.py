"""The gate's question, "may this change deploy?", is answered on the approval record
(selectors.change_is_deployable / approval_basis), never on the state name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.changes.models import Approval, ChangeRequest, EmergencyOverride
from apps.changes.selectors import approval_basis, change_is_deployable
from apps.changes.services import approval_record, change_submit, change_transition, emergency_override_grant

# Nothing here depends on the date; the clock is pinned all the same (tests/changes/conftest.py).
pytestmark = pytest.mark.usefixtures("pinned_october")


def _force(change, **fields):
    ChangeRequest.objects.filter(pk=change.pk).update(**fields)
    return ChangeRequest.objects.select_related("change_type", "standard_template").get(pk=change.pk)


@pytest.fixture
def approved(simple_type, make_change, approver):
    return approval_record(change=make_change(simple_type, submit=True), approver=approver, decision="approve").change


@pytest.mark.parametrize("state", ["approved", "scheduled", "implementing"])
def test_a_change_forced_into_a_work_state_by_a_raw_update_is_not_deployable(state, seeded_types, make_change,
                                                                            environments):
    change = make_change(seeded_types["normal"], submit=True, environment=environments["prod"])
    change = _force(change, state=state)
    assert not Approval.objects.exists()
    assert approval_basis(change) is None
    assert change_is_deployable(change) is False


def test_an_approved_change_is_deployable_until_it_is_done(approved, requester):
    assert approval_basis(approved) == "approvals"
    assert change_is_deployable(approved)
    change = change_transition(change=approved, to_state="scheduled", actor=requester)
    assert change_is_deployable(change)
    change = change_transition(change=change, to_state="implementing", actor=requester)
    assert change_is_deployable(change)
    change = change_transition(change=change, to_state="completed", actor=requester)
    assert not change_is_deployable(change)


def test_a_cancelled_change_keeps_its_approvals_but_is_not_deployable(approved, requester):
    change = change_transition(change=approved, to_state="cancelled", actor=requester)
    assert approval_basis(change) == "approvals"
    assert not change_is_deployable(change)


def test_content_changed_since_approval_is_not_deployable(approved):
    change = _force(approved, rollback_plan="Changed behind the service's back")
    assert change.state == "approved"
    assert not change_is_deployable(change)
    # The stored hash rewritten to match does not help: the approvals carry the old one.
    from apps.changes.workflow import content_hash

    change = _force(change, content_hash=content_hash(change))
    assert not change_is_deployable(change)


def test_a_voided_approval_counts_for_nothing(approved):
    Approval.objects.update(voided_at=timezone.now(), void_reason="test")
    assert not change_is_deployable(ChangeRequest.objects.get(pk=approved.pk))


def test_an_approval_by_the_requester_counts_for_nothing(simple_type, make_change, requester):
    change = make_change(simple_type, submit=True)
    stage = simple_type.stages.get()
    Approval.objects.create(change=change, stage=stage, stage_name=stage.name, approver=requester, decision="approve",
                            content_hash=change.content_hash)
    change = _force(change, state="approved")
    assert not change_is_deployable(change)


def test_every_mandatory_stage_must_be_approved(make_type, make_change, approver, person):
    two = make_type("two-stage", [{"name": "First", "group": "approver"}, {"name": "Second", "group": "approver"}])
    change = make_change(two, submit=True)
    change = approval_record(change=change, approver=approver, decision="approve").change
    assert change.state == "in_review"
    assert not change_is_deployable(_force(change, state="scheduled"))
    _force(change, state="in_review")
    change = approval_record(change=change, approver=person("second"), decision="approve").change
    assert change.state == "approved" and change_is_deployable(change)


def test_a_standard_change_from_an_approved_template_is_deployable_until_the_template_is_retired(
        seeded_types, make_change, requester, release_manager):
    from apps.change_types.services import template_approve, template_propose, template_retire

    template = template_propose(actor=requester, slug="scale", name="Scale replicas", description="HPA bounds")
    template = template_approve(template=template, actor=release_manager)
    change = change_submit(change=make_change(seeded_types["standard"], standard_template=template), actor=requester)
    assert change.state == "scheduled"
    assert approval_basis(change) == "standard_template" and change_is_deployable(change)
    template_retire(template=template, actor=release_manager, reason="Automated now")
    change = ChangeRequest.objects.select_related("change_type", "standard_template").get(pk=change.pk)
    assert not change_is_deployable(change)


def test_an_emergency_change_is_deployable_while_its_override_is_active(seeded_types, make_change, release_manager):
    change = make_change(seeded_types["emergency"], submit=True)
    assert not change_is_deployable(change)
    override = emergency_override_grant(change=change, actor=release_manager, reason="Payments down")
    assert override.change.state == "implementing"
    assert approval_basis(override.change) == "emergency_override" and change_is_deployable(override.change)
    EmergencyOverride.objects.filter(pk=override.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert not change_is_deployable(ChangeRequest.objects.get(pk=change.pk))


def test_an_override_on_a_change_that_is_not_an_emergency_authorises_nothing(simple_type, make_change,
                                                                              release_manager):
    change = make_change(simple_type, submit=True)
    EmergencyOverride.objects.create(change=change, authorised_by=release_manager, reason="forged",
                                     expires_at=timezone.now() + timedelta(hours=4))
    assert not change_is_deployable(change)


def test_a_type_with_no_stage_that_applies_is_deployable_once_the_engine_approved_it(make_type, make_change,
                                                                                     requester):
    optional = make_type("db-only", [{"name": "DBA", "group": "dba", "applies_when": "database_change"}])
    change = change_submit(change=make_change(optional), actor=requester)
    assert change.state == "approved" and approval_basis(change) == "no_stage_applies"
    assert change_is_deployable(change)
    forced = _force(make_change(optional, title="Never submitted"), state="scheduled")
    assert not change_is_deployable(forced)


def test_an_approval_written_by_the_override_authoriser_counts_for_nothing(simple_type, make_change, approver):
    """The record check asks the one segregation-of-duties rule: whoever authorised an override on
    the change is a party to it, so her approval row (however it got there) backs nothing."""
    change = make_change(simple_type, submit=True)
    EmergencyOverride.objects.create(change=change, authorised_by=approver, reason="vouched",
                                     expires_at=timezone.now() - timedelta(hours=1))
    stage = simple_type.stages.get()
    Approval.objects.create(change=change, stage=stage, stage_name=stage.name, approver=approver, decision="approve",
                            content_hash=change.content_hash)
    change = _force(change, state="approved")
    assert approval_basis(change) is None
    assert not change_is_deployable(change)
