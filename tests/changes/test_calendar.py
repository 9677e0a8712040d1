"""The month calendar and the per-user iCalendar feed behind a revocable secret URL."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from apps.changes.models import CalendarFeed, Freeze, MaintenanceWindow
from apps.changes.services import calendar_feed_revoke, calendar_feed_rotate


def test_month_calendar_shows_changes_windows_and_freezes(client, clock, requester, simple_type, make_change):
    # Early in the month, so the 10th of this month is still ahead (a change is planned ahead).
    clock("2026-10-05 09:00")
    start = timezone.now().replace(day=10, hour=2, minute=0, second=0, microsecond=0)
    change = make_change(simple_type, submit=True, planned_start=start, planned_end=start + timedelta(hours=1))
    Freeze.objects.create(name="Quarter close", reason="Finance", starts_at=start + timedelta(days=2),
                          ends_at=start + timedelta(days=4))
    MaintenanceWindow.objects.create(name="Tuesday window", starts_at=start - timedelta(days=30), duration_minutes=120,
                                     rrule="FREQ=WEEKLY;BYDAY=TU")
    client.force_login(requester)
    body = client.get(reverse("changes:calendar") + f"?month={start:%Y-%m}").content.decode()
    assert change.number in body and "Quarter close" in body and "Tuesday window" in body


def test_ics_feed_is_secret_and_revocable(client, requester, simple_type, make_change, outsider):
    change = make_change(simple_type, submit=True)
    secret = calendar_feed_rotate(user=requester, actor=requester)
    url = reverse("changes:calendar_feed", args=[secret])
    response = client.get(url)  # no session: the secret is the credential
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(response.content).walk("VEVENT")]
    assert any(change.number in str(e["summary"]) for e in events)
    assert CalendarFeed.objects.get(user=requester).secret_hash != secret  # only the hash is kept
    new_secret = calendar_feed_rotate(user=requester, actor=requester)
    assert client.get(url).status_code == 404
    calendar_feed_revoke(user=requester, actor=requester)
    assert client.get(reverse("changes:calendar_feed", args=[new_secret])).status_code == 404
    assert client.get(reverse("changes:calendar_feed", args=["guess"])).status_code == 404


def test_feed_management_page(client, requester, outsider):
    url = reverse("changes:calendar_feed_manage")
    assert client.post(url, {"action": "rotate"}).status_code == 302
    assert not CalendarFeed.objects.exists()
    client.force_login(outsider)
    assert client.post(url, {"action": "rotate"}).status_code == 403
    client.force_login(requester)
    client.post(url, {"action": "rotate"})
    body = client.get(reverse("changes:calendar")).content.decode()
    assert "/changes/calendar/feed/" in body and ".ics" in body
    client.post(url, {"action": "revoke"})
    assert not CalendarFeed.objects.exists()


def test_schedule_page_lets_release_managers_plan(client, release_manager, requester):
    url = reverse("changes:schedule")
    client.force_login(requester)
    assert client.post(url, {"kind": "freeze", "f-name": "x"}).status_code == 403
    client.force_login(release_manager)
    now = timezone.now()
    response = client.post(url, {"kind": "window", "w-name": "Nightly", "w-starts_at": now.strftime("%Y-%m-%dT%H:%M"),
                                 "w-duration_minutes": 120, "w-rrule": "FREQ=NOPE"})
    assert response.status_code == 400 and "rrule" in response.context["window_form"].errors
    response = client.post(url, {"kind": "freeze", "f-name": "Year end", "f-reason": "Close",
                                 "f-starts_at": now.strftime("%Y-%m-%dT%H:%M"),
                                 "f-ends_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert Freeze.objects.get().name == "Year end"


def test_delegation_page(client, approver, cab_member):
    url = reverse("changes:delegations")
    client.force_login(approver)
    ends = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, {"delegate": "cate", "ends_at": ends, "reason": "Holiday"}).status_code == 302
    assert "Cate" in client.get(url).content.decode()
