"""Windows and freezes in the browser (issue #16): edited and ended early by release managers only,
with a reason, audited once; the recurrence is built from a form (frequency, interval, weekdays,
until/count) instead of a typed RRULE."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes.forms_schedule import build_rrule, rrule_to_builder
from apps.changes.models import Freeze, MaintenanceWindow
from apps.changes.schedule import window_occurrence
from apps.changes.schedule_services import freeze_end_early, maintenance_window_end_early
from apps.changes.services import freeze_create, maintenance_window_create
from releaseportal.errors import Conflict, InvalidInput, NotAllowed


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.get_fixed_timezone(0))


@pytest.fixture
def running_freeze(clock, release_manager):
    clock("2026-11-10 12:00")
    return freeze_create(actor=release_manager, name="Card scheme upgrade", reason="Scheme cut-over",
                         starts_at=_at("2026-11-10 00:00"), ends_at=_at("2026-11-12 00:00"))


@pytest.fixture
def open_window(clock, release_manager):
    clock("2026-11-10 02:00")
    return maintenance_window_create(actor=release_manager, name="Nightly", starts_at=_at("2026-10-01 01:00"),
                                     duration_minutes=180, rrule="FREQ=DAILY")


def test_ending_a_freeze_early_sets_its_end_to_now_with_one_audit_event(running_freeze, release_manager):
    before = AuditEvent.objects.count()
    ended = freeze_end_early(freeze=running_freeze, actor=release_manager, reason="Cut-over done early")
    assert abs((ended.ends_at - timezone.now()).total_seconds()) < 5
    assert ended.ended_early_reason == "Cut-over done early"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == "change.freeze.ended_early" and event.details["planned_end"].startswith("2026-11-12")
    assert Freeze.history.filter(id=running_freeze.pk).latest("history_date").history_user == release_manager


def test_ending_early_needs_a_reason_and_a_running_freeze(running_freeze, release_manager, clock):
    with pytest.raises(InvalidInput) as refused:
        freeze_end_early(freeze=running_freeze, actor=release_manager, reason="  ")
    assert "reason" in refused.value.fields
    clock("2026-11-09 12:00")
    with pytest.raises(Conflict):
        freeze_end_early(freeze=running_freeze, actor=release_manager, reason="Not yet started")
    running_freeze.refresh_from_db()
    assert running_freeze.ends_at == _at("2026-11-12 00:00") and not running_freeze.ended_early_at


def test_only_release_managers_end_a_freeze_early(running_freeze, requester, cab_member):
    for someone in (requester, cab_member):
        with pytest.raises(NotAllowed):
            freeze_end_early(freeze=running_freeze, actor=someone, reason="Please")
    running_freeze.refresh_from_db()
    assert running_freeze.ends_at == _at("2026-11-12 00:00")


def test_ending_a_window_early_closes_only_the_open_occurrence(open_window, release_manager):
    assert window_occurrence(open_window, _at("2026-11-10 03:00")) is not None
    ended = maintenance_window_end_early(window=open_window, actor=release_manager, reason="Database restore done")
    assert window_occurrence(ended, _at("2026-11-10 03:00")) is None
    assert window_occurrence(ended, _at("2026-11-11 03:00")) is not None  # tomorrow's still comes
    assert AuditEvent.objects.filter(action="change.window.ended_early").count() == 1


def test_a_closed_window_cannot_be_ended(open_window, release_manager, clock):
    clock("2026-11-10 12:00")
    with pytest.raises(Conflict):
        maintenance_window_end_early(window=open_window, actor=release_manager, reason="Nothing open")


def test_the_freeze_page_ends_it_early_for_a_release_manager_only(client, running_freeze, release_manager, requester):
    url = reverse("changes:freeze_edit", args=[running_freeze.pk])
    client.force_login(requester)
    page = client.get(url)
    assert page.status_code == 200 and "End the freeze now" not in page.content.decode()
    assert client.post(url, {"action": "end", "e-reason": "Please"}).status_code == 403
    client.force_login(release_manager)
    assert "End the freeze now" in client.get(url).content.decode()
    missing = client.post(url, {"action": "end", "e-reason": ""})
    assert missing.status_code == 400 and "reason" in missing.context["end_form"].errors
    assert client.post(url, {"action": "end", "e-reason": "Cut-over done"}).status_code == 302
    running_freeze.refresh_from_db()
    assert running_freeze.ended_early_reason == "Cut-over done"


def test_the_window_page_edits_the_recurrence_from_the_builder(client, open_window, release_manager, service):
    url = reverse("changes:window_edit", args=[open_window.pk])
    client.force_login(release_manager)
    response = client.post(url, {
        "action": "edit", "w-name": "Tue/Thu nights", "w-starts_at": "2026-10-01T01:00", "w-duration_minutes": "180",
        "w-frequency": "WEEKLY", "w-interval": "2", "w-weekdays": ["TU", "TH"], "w-until": "2027-03-31",
        "w-notice_amount": "5", "w-notice_unit": "business_days", "w-max_change_minutes": "90",
        "w-review_on": "2027-01-15", "w-service": service.slug})
    assert response.status_code == 302, response.context and response.context["form"].errors
    open_window.refresh_from_db()
    assert open_window.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270331T235959Z"
    assert (open_window.notice_amount, open_window.max_change_minutes, open_window.review_on) == (
        5, 90, date(2027, 1, 15))
    assert open_window.service == service
    assert AuditEvent.objects.filter(action="change.window.updated").count() == 1


def test_the_page_shows_the_weekdays_as_a_fieldset_with_a_legend(client, open_window, release_manager):
    client.force_login(release_manager)
    body = client.get(reverse("changes:window_edit", args=[open_window.pk])).content.decode()
    assert "<legend>On these days</legend>" in body and 'value="TU"' in body
    assert '<label for="">' not in body


def test_the_builder_refuses_until_and_count_together(client, open_window, release_manager):
    client.force_login(release_manager)
    response = client.post(reverse("changes:window_edit", args=[open_window.pk]), {
        "action": "edit", "w-name": "Nightly", "w-starts_at": "2026-10-01T01:00", "w-duration_minutes": "180",
        "w-frequency": "DAILY", "w-until": "2027-03-31", "w-count": "10"})
    assert response.status_code == 400 and "count" in response.context["form"].errors
    open_window.refresh_from_db()
    assert open_window.rrule == "FREQ=DAILY"


def test_rules_round_trip_through_the_builder():
    rule = build_rrule(frequency="MONTHLY", interval=1, weekdays=["SA"], until=None, count=6)
    assert rule == "FREQ=MONTHLY;BYDAY=SA;COUNT=6"
    assert rrule_to_builder(rule) == {"frequency": "MONTHLY", "interval": 1, "weekdays": ["SA"], "count": 6}
    assert rrule_to_builder("FREQ=MONTHLY;BYDAY=1SA") is None  # the advanced field keeps what the builder cannot say
    assert build_rrule(frequency="", interval=3, weekdays=[], until=None, count=None) == ""


def test_window_and_freeze_pages_need_a_member(client, open_window, running_freeze, outsider):
    for url in (reverse("changes:window_edit", args=[open_window.pk]),
                reverse("changes:freeze_edit", args=[running_freeze.pk])):
        client.logout()
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
        client.force_login(outsider)
        assert client.get(url).status_code == 403
        assert client.post(url, {"action": "end", "e-reason": "x"}).status_code == 403
    assert MaintenanceWindow.objects.get().ended_early_at is None
    assert Freeze.objects.get().ended_early_at is None


def test_an_unknown_window_is_404(client, requester):
    client.force_login(requester)
    assert client.get(reverse("changes:window_edit", args=[999999])).status_code == 404
    assert client.get(reverse("changes:freeze_edit", args=[999999])).status_code == 404


def test_the_api_rule_is_still_accepted_as_typed(release_manager):
    window = maintenance_window_create(actor=release_manager, name="First Saturday", starts_at=_at("2026-11-07 22:00"),
                                       duration_minutes=240, rrule="FREQ=MONTHLY;BYDAY=1SA")
    assert window_occurrence(window, _at("2026-12-05 23:00")) is not None
    assert timedelta(minutes=window.duration_minutes) == timedelta(hours=4)
