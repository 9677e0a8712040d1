"""Approvals are bound to the content hash: editing plan, schedule, service or risk voids them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.changes.models import Approval
from apps.changes.services import approval_record, change_update


@pytest.fixture
def two_of(make_type):
    return make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])


def test_approvals_carry_the_content_hash(simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    approval = approval_record(change=change, approver=approver, decision="approve")
    assert approval.content_hash == change.content_hash and len(change.content_hash) == 64


def test_editing_the_plan_voids_approvals_and_returns_the_change_to_review(simple_type, make_change, approver, requester):
    change = make_change(simple_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    change.refresh_from_db()
    assert change.state == "approved"
    old_hash = change.content_hash
    change_update(change=change, actor=requester, rollback_plan="A different rollback")
    change.refresh_from_db()
    assert change.state == "in_review"
    assert change.content_hash != old_hash
    assert "rollback_plan" in change.review_reason
    voided = Approval.objects.get()
    assert voided.voided_at is not None and "rollback_plan" in voided.void_reason
    assert change.open_stages.count() == 1
    # The same approver may decide again on the new content.
    approval_record(change=change, approver=approver, decision="approve")
    change.refresh_from_db()
    assert change.state == "approved"


def test_rescheduling_voids_approvals_in_review(two_of, make_change, approver, requester):
    change = make_change(two_of, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    change_update(change=change, actor=requester, planned_start=change.planned_start + timedelta(days=1),
                  planned_end=change.planned_end + timedelta(days=1))
    assert Approval.objects.filter(voided_at__isnull=True).count() == 0
    change.refresh_from_db()
    assert "planned_start" in change.review_reason


def test_editing_the_title_keeps_approvals(two_of, make_change, approver, requester):
    change = make_change(two_of, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    change_update(change=change, actor=requester, title="Better title")
    assert Approval.objects.filter(voided_at__isnull=True).count() == 1


def test_changing_the_risk_answers_voids(simple_type, make_change, approver, requester):
    change = make_change(simple_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    change_update(change=change, actor=requester, risk_answers={"database_change": True})
    change.refresh_from_db()
    assert change.state == "in_review"
