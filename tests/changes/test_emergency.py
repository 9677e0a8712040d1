"""Emergency changes: a release manager's time-bound override, retrospective CAB approval before
it expires else unauthorised, and a post-mortem before close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.changes.models import EmergencyOverride
from apps.changes.selectors import active_emergency_override, change_is_deployable
from apps.changes.services import (
    approval_record,
    change_transition,
    emergency_override_grant,
    post_mortem_record,
)
from apps.changes.tasks import emergency_overrides_flag_expired
from releaseportal.errors import Conflict, NotAllowed


@pytest.fixture
def emergency(seeded_types, make_change):
    return make_change(seeded_types["emergency"], submit=True, title="Hotfix the outage")


def test_a_release_manager_authorises_for_24_hours(emergency, release_manager):
    override = emergency_override_grant(change=emergency, actor=release_manager, reason="Payments are down")
    assert override.expires_at - override.authorised_at == timedelta(hours=24)
    emergency.refresh_from_db()
    assert emergency.state == "implementing"
    assert change_is_deployable(emergency)
    assert emergency.post_mortem_due_at - override.authorised_at == timedelta(days=5)


def test_only_release_managers_authorise(emergency, approver, requester):
    for who in (approver, requester):
        with pytest.raises(NotAllowed):
            emergency_override_grant(change=emergency, actor=who, reason="please")
    assert not EmergencyOverride.objects.exists()


def test_normal_changes_get_no_override(seeded_types, make_change, release_manager):
    change = make_change(seeded_types["normal"], submit=True)
    with pytest.raises(Conflict):
        emergency_override_grant(change=change, actor=release_manager, reason="hurry")


def test_expiry_without_cab_approval_flags_the_change_unauthorised(emergency, release_manager):
    override = emergency_override_grant(change=emergency, actor=release_manager, reason="down")
    EmergencyOverride.objects.filter(pk=override.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert emergency_overrides_flag_expired.delay().get() == 1
    emergency.refresh_from_db()
    override.refresh_from_db()
    assert emergency.is_unauthorised
    assert override.unauthorised_at is not None
    assert active_emergency_override(emergency) is None
    assert emergency_overrides_flag_expired.delay().get() == 0  # idempotent


def test_retrospective_cab_approval_before_expiry_keeps_it_authorised(emergency, release_manager, cab_member):
    emergency_override_grant(change=emergency, actor=release_manager, reason="down")
    approval_record(change=emergency, approver=cab_member, decision="approve", comment="Retro OK")
    override = EmergencyOverride.objects.get()
    assert override.retro_approved_at is not None
    EmergencyOverride.objects.filter(pk=override.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert emergency_overrides_flag_expired.delay().get() == 0
    emergency.refresh_from_db()
    assert not emergency.is_unauthorised
    assert emergency.approved_at is not None


def test_close_is_blocked_without_the_post_mortem(emergency, release_manager, requester):
    emergency_override_grant(change=emergency, actor=release_manager, reason="down")
    change_transition(change=emergency, to_state="completed", actor=requester)
    with pytest.raises(Conflict) as exc:
        change_transition(change=emergency, to_state="closed", actor=requester)
    assert exc.value.code == "post_mortem_required"
    post_mortem_record(change=emergency, actor=requester, text="Root cause: expired cert.")
    change_transition(change=emergency, to_state="closed", actor=requester)
    emergency.refresh_from_db()
    assert emergency.state == "closed"


def test_emergency_changes_pass_a_freeze(seeded_types, make_change, release_manager):
    from apps.changes.models import Freeze

    now = timezone.now()
    Freeze.objects.create(name="Freeze", reason="Holidays", starts_at=now, ends_at=now + timedelta(days=30))
    change = make_change(seeded_types["emergency"], submit=True)
    assert change.state == "in_review"
