"""The calendar finds the window occurrence of each change of the month through an
OccurrenceIndex (apps/changes/schedule.py): each recurring window's occurrences over the view are
listed once and searched, and the answer is window_occurrence()'s for every instant."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes import schedule
from apps.changes.models import MaintenanceWindow
from apps.changes.schedule import OccurrenceIndex, window_occurrence, window_occurrences

pytestmark = pytest.mark.django_db


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.get_fixed_timezone(0))


@pytest.fixture
def windows():
    """Nightly 01:00-03:00 since October, ended early on 10 Nov at 02:00; Tue/Thu evenings; a one-off;
    a rule that does not parse."""
    return [
        MaintenanceWindow.objects.create(name="Nightly", starts_at=_at("2026-10-01 01:00"), duration_minutes=120,
                                         rrule="FREQ=DAILY", ended_early_at=_at("2026-11-10 02:00")),
        MaintenanceWindow.objects.create(name="Tue/Thu", starts_at=_at("2026-01-06 20:00"), duration_minutes=240,
                                         rrule="RRULE:FREQ=WEEKLY;BYDAY=TU,TH"),
        MaintenanceWindow.objects.create(name="Once", starts_at=_at("2026-11-15 12:00"), duration_minutes=30),
        MaintenanceWindow.objects.create(name="Broken", starts_at=_at("2026-11-01 00:00"), duration_minutes=60,
                                         rrule="FREQ=SOMETIMES"),
    ]


def test_the_index_answers_as_window_occurrence_for_every_instant_of_the_span_and_around_it(windows):
    after, before = _at("2026-10-26 00:00"), _at("2026-12-07 00:00")
    index = OccurrenceIndex(windows, after, before)
    instants = [after + timedelta(minutes=10 * i) for i in range(-30, 42 * 24 * 6 + 30)]
    # Exactly at an occurrence's start and end, and at the moment one was ended early.
    instants += [_at("2026-11-03 01:00"), _at("2026-11-03 03:00"), _at("2026-11-10 02:00"), _at("2026-11-12 00:00")]
    held = 0
    for window in windows:
        assert index.occurrences(window) == window_occurrences(window, after, before)
        for instant in instants:
            expected = window_occurrence(window, instant)
            assert index.occurrence(window, instant) == expected, (window.name, instant)
            held += expected is not None
    assert held > 500


def test_the_month_view_reads_each_rule_once_whatever_the_number_of_changes(client, clock, requester, windows,
                                                                             make_change, simple_type, monkeypatch):
    clock("2026-11-02 09:00")
    parsed = []
    real = schedule.parse_rrule
    monkeypatch.setattr(schedule, "parse_rrule", lambda rule, dtstart: parsed.append(rule) or real(rule, dtstart))
    client.force_login(requester)
    url = reverse("changes:calendar") + "?view=month&date=2026-11-01"

    def rules_read() -> int:
        parsed.clear()
        assert client.get(url).status_code == 200
        return len(parsed)

    make_change(simple_type, submit=True, planned_start=_at("2026-11-03 01:30"))
    few = rules_read()
    for day in range(4, 24):
        make_change(simple_type, submit=True, planned_start=_at(f"2026-11-{day:02d} 02:00"))
    assert rules_read() == few <= 3  # one per recurring window
