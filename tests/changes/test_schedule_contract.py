"""The selectors the delivery gate relies on: schedule_blockers, active_emergency_override,
change_is_deployable."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.changes.models import EmergencyOverride, Freeze, MaintenanceWindow
from apps.changes.selectors import active_emergency_override, change_is_deployable, schedule_blockers


def test_no_windows_and_no_freezes_means_no_blockers(service, environments):
    assert schedule_blockers(service=service, environment=environments["prod"], at=timezone.now()) == []


def test_it_blocks_outside_every_maintenance_window(service, environments):
    base = timezone.now().replace(hour=2, minute=0, second=0, microsecond=0) - timedelta(days=7)
    MaintenanceWindow.objects.create(name="Nightly", service=service, starts_at=base, duration_minutes=120,
                                     rrule="FREQ=DAILY")
    inside = base + timedelta(days=7, minutes=30)
    outside = base + timedelta(days=7, hours=5)
    prod = environments["prod"]
    assert schedule_blockers(service=service, environment=prod, at=inside) == []
    codes = [code for code, _ in schedule_blockers(service=service, environment=prod, at=outside)]
    assert codes == ["outside_maintenance_window"]


def test_a_window_for_another_environment_does_not_apply(service, environments):
    MaintenanceWindow.objects.create(name="Prod only", environment=environments["prod"],
                                     starts_at=timezone.now() - timedelta(days=30), duration_minutes=60, rrule="FREQ=WEEKLY")
    assert schedule_blockers(service=service, environment=environments["dev"], at=timezone.now()) == []


def test_freeze_blocks_normal_changes_but_not_emergency(service, environments, seeded_types, make_change):
    now = timezone.now()
    Freeze.objects.create(name="Year end", reason="Financial close", starts_at=now - timedelta(hours=1),
                          ends_at=now + timedelta(days=2))
    normal = make_change(seeded_types["normal"])
    emergency = make_change(seeded_types["emergency"])
    prod = environments["prod"]
    assert [c for c, _ in schedule_blockers(service=service, environment=prod, at=now, change=normal)] == ["freeze_active"]
    assert schedule_blockers(service=service, environment=prod, at=now, change=emergency) == []


def test_a_freeze_scoped_to_another_team_does_not_apply(service, environments, other_team):
    now = timezone.now()
    Freeze.objects.create(name="Identity freeze", reason="Audit", team=other_team, starts_at=now - timedelta(hours=1),
                          ends_at=now + timedelta(hours=1))
    assert schedule_blockers(service=service, environment=environments["prod"], at=now) == []


def test_an_emergency_change_is_deployable_on_its_active_override_only(seeded_types, make_change, release_manager):
    change = make_change(seeded_types["emergency"], submit=True)
    assert not change_is_deployable(change)
    assert active_emergency_override(change) is None
    change.state = "approved"  # a state name alone authorises nothing
    assert not change_is_deployable(change)
    change.state = "in_review"
    override = EmergencyOverride.objects.create(change=change, authorised_by=release_manager, reason="outage",
                                                expires_at=timezone.now() + timedelta(hours=24))
    assert active_emergency_override(change) == override
    assert change_is_deployable(change)
    override.expires_at = timezone.now() - timedelta(minutes=1)
    override.save()
    assert active_emergency_override(change) is None
    assert not change_is_deployable(change)
