"""Conflicts at submit, reschedule and approve: outside any window, in a freeze, overlapping
changes on the same service and environment, an implementer booked twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.changes.models import Freeze, MaintenanceWindow
from apps.changes.schedule import change_conflicts
from apps.changes.services import (
    approval_record,
    change_submit,
    change_update,
    freeze_create,
    maintenance_window_create,
)
from releaseportal.errors import Conflict, InvalidInput


def _codes(change):
    return [c["code"] for c in change_conflicts(change)]


def _slot(days=5, hour=2):
    start = (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def test_a_change_outside_every_window_conflicts(simple_type, make_change, service, release_manager):
    base = (timezone.now() - timedelta(days=10)).replace(hour=1, minute=0, second=0, microsecond=0)
    maintenance_window_create(actor=release_manager, name="Nightly", starts_at=base, duration_minutes=180,
                              rrule="FREQ=DAILY", service=service)
    start, end = _slot(hour=2)
    inside = make_change(simple_type, planned_start=start, planned_end=end)
    assert _codes(inside) == []
    start, end = _slot(hour=12)
    outside = make_change(simple_type, planned_start=start, planned_end=end)
    assert _codes(outside) == ["outside_maintenance_window"]


def test_an_invalid_rrule_is_refused(release_manager):
    with pytest.raises(InvalidInput) as exc:
        maintenance_window_create(actor=release_manager, name="Bad", starts_at=timezone.now(), duration_minutes=60,
                                  rrule="FREQ=SOMETIMES")
    assert "rrule" in exc.value.fields
    assert not MaintenanceWindow.objects.exists()


def test_a_freeze_blocks_submit_of_normal_changes_but_not_emergencies(seeded_types, make_change, release_manager):
    start, end = _slot()
    freeze_create(actor=release_manager, name="Year end", reason="Financial close", starts_at=start - timedelta(days=1),
                  ends_at=end + timedelta(days=1))
    normal = make_change(seeded_types["normal"], planned_start=start, planned_end=end)
    assert "freeze_active" in _codes(normal)
    with pytest.raises(Conflict) as exc:
        change_submit(change=normal, actor=normal.requester)
    assert exc.value.code == "freeze_active"
    emergency = make_change(seeded_types["emergency"], planned_start=start, planned_end=end)
    emergency = change_submit(change=emergency, actor=emergency.requester)
    assert emergency.state == "in_review"


def test_a_freeze_blocks_rescheduling_into_it(simple_type, make_change, release_manager):
    change = make_change(simple_type, submit=True)
    Freeze.objects.create(name="Launch", reason="Big launch", starts_at=change.planned_start + timedelta(days=9),
                          ends_at=change.planned_start + timedelta(days=11))
    with pytest.raises(Conflict) as exc:
        change_update(change=change, actor=change.requester, planned_start=change.planned_start + timedelta(days=10),
                      planned_end=change.planned_end + timedelta(days=10))
    assert exc.value.code == "freeze_active"


def test_a_freeze_blocks_approval(simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    Freeze.objects.create(name="Sudden", reason="Incident", starts_at=change.planned_start - timedelta(hours=1),
                          ends_at=change.planned_end + timedelta(hours=1))
    with pytest.raises(Conflict) as exc:
        approval_record(change=change, approver=approver, decision="approve")
    assert exc.value.code == "freeze_active"
    approval_record(change=change, approver=approver, decision="reject", comment="Frozen anyway")


def test_overlapping_changes_on_the_same_service_and_environment(simple_type, make_change, environments):
    start, end = _slot()
    first = make_change(simple_type, submit=True, planned_start=start, planned_end=end)
    second = make_change(simple_type, planned_start=start + timedelta(minutes=30), planned_end=end + timedelta(hours=1))
    assert _codes(second) == ["overlapping_change"]
    assert change_conflicts(second)[0]["change"] == first.number
    elsewhere = make_change(simple_type, planned_start=start, planned_end=end, environment=environments["dev"])
    assert _codes(elsewhere) == []


def test_an_implementer_booked_twice(simple_type, make_change, implementer, environments):
    start, end = _slot()
    make_change(simple_type, submit=True, planned_start=start, planned_end=end, implementer=implementer)
    other = make_change(simple_type, planned_start=start, planned_end=end, implementer=implementer,
                        environment=environments["dev"])
    assert _codes(other) == ["implementer_double_booked"]


def test_conflicts_show_in_the_api(api_client_for, simple_type, make_change, requester):
    start, end = _slot()
    make_change(simple_type, submit=True, planned_start=start, planned_end=end)
    second = make_change(simple_type, planned_start=start, planned_end=end)
    body = api_client_for(requester).get(f"/api/v1/changes/{second.pk}/").json()
    assert [c["kind"] for c in body["conflicts"]] == ["overlap"]
