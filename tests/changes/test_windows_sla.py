"""Maintenance windows carry their stakeholder SLA (issue #15): notice period, allowed duration,
review date and who agreed. A change planned into a window with less notice than the SLA, or
longer than it allows, is flagged on the change page, the calendar and the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes.models import ChangeRequest, MaintenanceWindow, WindowAgreement
from apps.changes.schedule import business_days_before, change_conflicts, window_sla_flags
from apps.changes.schedule_services import maintenance_window_update, window_agreement_record
from apps.changes.services import maintenance_window_create
from releaseportal.errors import InvalidInput, NotAllowed


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.get_fixed_timezone(0))


@pytest.fixture
def nightly(release_manager, service, environments):
    """Every night 01:00–05:00 on payments-api in staging; 48 hours' notice, changes up to 2 hours."""
    return maintenance_window_create(actor=release_manager, name="Nightly", starts_at=_at("2026-10-01 01:00"),
                                     duration_minutes=240, rrule="FREQ=DAILY", service=service,
                                     environment=environments["staging"], notice_amount=48, notice_unit="hours",
                                     max_change_minutes=120, review_on=date(2027, 1, 31))


def _planned(make_change, simple_type, start: datetime, *, submitted: datetime, minutes: int = 60) -> ChangeRequest:
    change = make_change(simple_type, submit=True, planned_start=start, planned_end=start + timedelta(minutes=minutes))
    ChangeRequest.objects.filter(pk=change.pk).update(submitted_at=submitted)
    change.refresh_from_db()
    return change


def _codes(change) -> list[str]:
    return [c["code"] for c in change_conflicts(change) if c["kind"] == "window_sla"]


def test_a_change_with_less_notice_than_the_sla_is_flagged(clock, nightly, make_change, simple_type):
    clock("2026-11-02 09:00")
    start = _at("2026-11-04 02:00")
    change = _planned(make_change, simple_type, start, submitted=start - timedelta(hours=47, minutes=59))
    assert _codes(change) == ["window_short_notice"]
    flag = window_sla_flags(change)[0]
    assert flag["window"] == "Nightly" and flag["notice_required"] == {"amount": 48, "unit": "hours"}


def test_exactly_the_notice_period_is_not_flagged(clock, nightly, make_change, simple_type):
    clock("2026-11-02 09:00")
    start = _at("2026-11-04 02:00")
    change = _planned(make_change, simple_type, start, submitted=start - timedelta(hours=48))
    assert _codes(change) == []


def test_business_days_skip_the_weekend(clock, release_manager, service, environments, make_change, simple_type):
    clock("2026-11-02 09:00")
    maintenance_window_create(actor=release_manager, name="Weekly", starts_at=_at("2026-10-05 08:00"),
                              duration_minutes=240, rrule="FREQ=WEEKLY;BYDAY=MO", service=service,
                              environment=environments["staging"], notice_amount=5, notice_unit="business_days")
    # Monday 9 Nov 10:00 minus 5 business days is Monday 2 Nov 10:00, not Wednesday 4 Nov.
    assert business_days_before(_at("2026-11-09 10:00"), 5) == _at("2026-11-02 10:00")
    start = _at("2026-11-09 10:00")
    in_time = _planned(make_change, simple_type, start, submitted=_at("2026-11-02 10:00"))
    late = _planned(make_change, simple_type, start, submitted=_at("2026-11-04 09:00"), minutes=30)
    assert _codes(in_time) == []
    assert _codes(late) == ["window_short_notice"]


def test_a_change_longer_than_the_window_allows_is_flagged(clock, nightly, make_change, simple_type):
    clock("2026-11-02 09:00")
    start = _at("2026-11-10 01:30")
    within = _planned(make_change, simple_type, start, submitted=_at("2026-11-02 09:00"), minutes=120)
    beyond = _planned(make_change, simple_type, start, submitted=_at("2026-11-02 09:00"), minutes=121)
    assert _codes(within) == []
    assert _codes(beyond) == ["window_duration_exceeded"]


def test_a_window_without_an_sla_flags_nothing(clock, release_manager, service, make_change, simple_type):
    clock("2026-11-02 09:00")
    maintenance_window_create(actor=release_manager, name="Any night", starts_at=_at("2026-10-01 01:00"),
                              duration_minutes=600, rrule="FREQ=DAILY")
    change = _planned(make_change, simple_type, _at("2026-11-02 23:00") + timedelta(hours=3),
                      submitted=_at("2026-11-02 09:00"), minutes=500)
    assert _codes(change) == []


def test_the_flag_shows_on_the_change_page_and_in_the_api(clock, client, api_client_for, requester, release_manager,
                                                         nightly, make_change, simple_type):
    clock("2026-11-02 09:00")
    start = _at("2026-11-03 02:00")
    change = _planned(make_change, simple_type, start, submitted=_at("2026-11-02 09:00"))
    window_agreement_record(window=nightly, actor=release_manager, group_name="Card operations",
                            agreed_at=_at("2026-10-20 12:00"))
    client.force_login(requester)
    body = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert "Maintenance window and its SLA" in body and "Short notice" in body and "Card operations" in body
    data = api_client_for(requester).get(f"/api/v1/changes/{change.pk}/").json()
    assert [f["code"] for f in data["schedule"]["flags"]] == ["window_short_notice"]
    assert "window_short_notice" in [c["code"] for c in data["conflicts"]]
    sla = data["schedule"]["windows"][0]["sla"]
    assert sla["notice"] == {"amount": 48, "unit": "hours"} and sla["allowed_duration_minutes"] == 120
    assert sla["agreed_by"][0]["group"] == "Card operations" and sla["agreed_by"][0]["agreed_at"].startswith("2026-10-20")


def test_the_flag_shows_on_the_calendar(clock, client, requester, nightly, make_change, simple_type):
    clock("2026-11-02 09:00")
    late = _planned(make_change, simple_type, _at("2026-11-03 02:00"), submitted=_at("2026-11-02 09:00"))
    ok = _planned(make_change, simple_type, _at("2026-11-12 02:00"), submitted=_at("2026-11-02 09:00"))
    client.force_login(requester)
    response = client.get(reverse("changes:calendar") + "?view=month&date=2026-11-01&kind=changes")
    entries = {e["url"]: e for _, items, _ in response.context["day_entries"] for e in items}
    assert [f["code"] for f in entries[reverse("changes:detail", args=[late.number])]["flags"]] == ["window_short_notice"]
    assert entries[reverse("changes:detail", args=[ok.number])]["flags"] == []
    assert "flagged: less notice than the window" in response.content.decode()


def test_a_window_whose_review_date_passed_shows_review_overdue(clock, client, requester, nightly):
    clock("2027-01-31 12:00")
    client.force_login(requester)
    assert "review overdue" not in client.get(reverse("changes:schedule")).content.decode()
    clock("2027-02-01 00:30")
    assert "review overdue" in client.get(reverse("changes:schedule")).content.decode()
    assert "review overdue" in client.get(reverse("changes:window_edit", args=[nightly.pk])).content.decode()
    calendar = client.get(reverse("changes:calendar") + "?view=week&date=2027-02-01&kind=windows").content.decode()
    assert "review overdue" in calendar


def test_recording_an_agreement_writes_history_and_one_audit_event(release_manager, nightly, requester):
    before = AuditEvent.objects.count()
    agreement = window_agreement_record(window=nightly, actor=release_manager, user=requester)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == "change.window.sla_agreed" and event.details["user"] == requester.username
    assert agreement.history.get().history_user == release_manager
    assert WindowAgreement.objects.get().agreed_at is not None


def test_an_agreement_names_someone(release_manager, nightly):
    with pytest.raises(InvalidInput) as refused:
        window_agreement_record(window=nightly, actor=release_manager)
    assert "user" in refused.value.fields
    assert not WindowAgreement.objects.exists()


def test_only_release_managers_change_the_sla(requester, release_manager, nightly):
    with pytest.raises(NotAllowed):
        maintenance_window_update(window=nightly, actor=requester, notice_amount=1)
    before = AuditEvent.objects.count()
    updated = maintenance_window_update(window=nightly, actor=release_manager, notice_amount=24, review_on=None)
    assert (updated.notice_amount, updated.review_on) == (24, None)
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.latest("id").details["changed"]["notice_amount"] == [48, 24]
    assert MaintenanceWindow.history.filter(id=nightly.pk).count() == 2


def test_bad_sla_input_is_refused_naming_the_field(release_manager, nightly):
    with pytest.raises(InvalidInput) as refused:
        maintenance_window_update(window=nightly, actor=release_manager, max_change_minutes=0)
    assert "max_change_minutes" in refused.value.fields
    nightly.refresh_from_db()
    assert nightly.max_change_minutes == 120
