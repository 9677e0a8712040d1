"""The change control demo data: every state, approvals, the CAB meeting next week, an open
override, an overdue post-mortem; seeding twice adds nothing."""

from __future__ import annotations

import io

import pytest

from apps.changes.models import CabMeeting, ChangeRequest, EmergencyOverride


def _seed():
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext
    from apps.changes import demo as changes_demo

    ctx = DemoContext(seed=7, stdout=io.StringIO())
    for module in (accounts_demo, catalog_demo, changes_demo):
        module.seed(ctx)


@pytest.mark.django_db
def test_demo_covers_every_state_and_is_idempotent(seeded_types, roles_ready):
    _seed()
    states = set(ChangeRequest.objects.values_list("state", flat=True))
    assert states >= {"draft", "in_review", "approved", "scheduled", "implementing", "completed", "failed",
                      "rolled_back", "rejected", "cancelled", "closed"}
    assert CabMeeting.objects.get().agenda.exists()
    assert EmergencyOverride.objects.filter(retro_approved_at__isnull=True).exists()
    assert ChangeRequest.objects.filter(post_mortem_due_at__isnull=False, post_mortem_at__isnull=True).count() >= 1
    count = ChangeRequest.objects.count()
    _seed()
    assert ChangeRequest.objects.count() == count


@pytest.mark.django_db
def test_demo_changes_ready_for_work_are_approved_on_the_record(seeded_types, roles_ready):
    from apps.changes.selectors import change_is_deployable

    _seed()
    ready = ChangeRequest.objects.filter(state__in=["approved", "scheduled"]).select_related(
        "change_type", "standard_template", "service", "environment")
    assert ready.exists()
    assert [c.number for c in ready if not change_is_deployable(c)] == []
    in_review_prod = ChangeRequest.objects.filter(state="in_review", environment__is_production=True,
                                                  change_type__is_emergency=False)
    assert all(c.rollback_plan and c.rollback_criteria for c in in_review_prod)


@pytest.mark.django_db
def test_demo_history_is_in_the_audit_log_with_who_acted_and_when(seeded_types, roles_ready):
    from apps.audit.models import AuditEvent
    from apps.audit.verification import verify_chain
    from apps.changes.models import Approval

    _seed()
    created = AuditEvent.objects.filter(action="change.created")
    assert created.count() == ChangeRequest.objects.count()
    assert all(e.details["imported"] is True for e in created)
    change = ChangeRequest.objects.select_related("requester").order_by("pk").first()
    event = created.get(object_id=str(change.pk))
    assert event.object_type == "changes.changerequest" and event.actor_label == change.requester.username
    assert event.details["occurred_at"].startswith(change.created_at.strftime("%Y-%m-%dT%H:%M"))
    decisions = AuditEvent.objects.filter(action__startswith="change.approval.")
    assert decisions.count() == Approval.objects.count() > 0
    assert verify_chain().ok
