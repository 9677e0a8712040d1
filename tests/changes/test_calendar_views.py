"""The change calendar (issue #16): month, week and day views; "+N more" opens the day; a
pipeline's deployments collapse into one count per day and never hide windows, freezes and CAB
meetings; filters by service, environment and kind; a fixed number of queries; the feed URL
answers GET with text/calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from apps.change_types.models import ChangeType
from apps.changes.cab import cab_meeting_create
from apps.changes.models import ChangeRequest, Freeze, MaintenanceWindow
from apps.changes.services import calendar_feed_rotate


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.get_fixed_timezone(0))


@pytest.fixture
def deployments(service_account, service, environments):
    """deployments(day, n): n pre-approved standard changes a pipeline filed on `day` (bulk: test data)."""
    standard = ChangeType.objects.create(slug="std-deploy", name="Standard deploy", is_pre_approved=True)

    def make(day: str, n: int, environment="prod") -> list[ChangeRequest]:
        start = _at(f"{day} 10:00")
        rows = [ChangeRequest(number=f"CHG-D{day.replace('-', '')}{environment[:1]}{i:04d}", title=f"Deploy payments {i}",
                              change_type=standard, service=service, environment=environments[environment],
                              requester=service_account, state="completed", planned_start=start + timedelta(minutes=i),
                              planned_end=start + timedelta(minutes=i + 30))
                for i in range(n)]
        return ChangeRequest.objects.bulk_create(rows)

    return make


@pytest.fixture
def busy_month(clock, deployments, release_manager, cab_member, requester, simple_type, make_change, environments):
    """November 2026: 40 deployments on the 10th, a nightly window, a freeze, a CAB meeting and a change."""
    clock("2026-11-02 09:00")
    deployments("2026-11-10", 40)
    deployments("2026-11-11", 3, environment="staging")
    change = make_change(simple_type, submit=True, planned_start=_at("2026-11-10 02:00"))
    MaintenanceWindow.objects.create(name="Nightly", starts_at=_at("2026-10-01 01:00"), duration_minutes=120,
                                     rrule="FREQ=DAILY")
    Freeze.objects.create(name="Card network freeze", reason="Scheme upgrade", starts_at=_at("2026-11-10 00:00"),
                          ends_at=_at("2026-11-10 23:00"))
    cab_meeting_create(actor=cab_member, title="Weekly CAB", starts_at=_at("2026-11-10 14:00"), quorum=1,
                       members=[cab_member])
    return change


def _day(response, day: str) -> list[dict]:
    for d, items, _url in response.context["day_entries"]:
        if str(d) == day:
            return items
    raise AssertionError(day)


def test_deployments_collapse_into_one_count_and_windows_freezes_and_cab_come_first(client, requester, busy_month):
    client.force_login(requester)
    response = client.get(reverse("changes:calendar") + "?date=2026-11-01")
    assert response.status_code == 200
    items = _day(response, "2026-11-10")
    assert [e["kind"] for e in items] == ["window", "freeze", "cab", "change", "deployments"]
    assert items[-1]["label"] == "40 deployments"
    assert "view=day" in items[-1]["url"] and "date=2026-11-10" in items[-1]["url"]
    assert response.content.decode().count("Deploy payments") == 0


def test_plus_n_more_links_to_the_day_view(client, requester, busy_month, make_change, simple_type):
    for hour in range(3, 8):  # planned under the freeze: in review as data (the freeze refuses a submit)
        job = make_change(simple_type, planned_start=_at(f"2026-11-10 {hour:02d}:00"), title=f"Job {hour}")
        ChangeRequest.objects.filter(pk=job.pk).update(state="in_review")
    client.force_login(requester)
    body = client.get(reverse("changes:calendar") + "?date=2026-11-01").content.decode()
    assert 'class="more" href="?view=day&amp;date=2026-11-10' in body
    day = client.get(reverse("changes:calendar") + "?view=day&date=2026-11-10")
    listed = day.content.decode()
    # The day lists everything, the deployments one by one.
    assert "Job 7" in listed and listed.count("Deploy payments") == 40


def test_week_view_shows_seven_days_from_monday(client, requester, busy_month):
    client.force_login(requester)
    response = client.get(reverse("changes:calendar") + "?view=week&date=2026-11-12")
    assert [str(d) for d in response.context["days"]] == [f"2026-11-{d:02d}" for d in range(9, 16)]
    assert _day(response, "2026-11-11")[-1]["label"] == "3 deployments"


def test_filters_by_kind_service_and_environment(client, requester, busy_month, other_team):
    from tests.factories import ServiceFactory

    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    client.force_login(requester)
    url = reverse("changes:calendar")
    windows_only = _day(client.get(url + "?date=2026-11-01&kind=windows&kind=cab"), "2026-11-10")
    assert [e["kind"] for e in windows_only] == ["window", "cab"]
    staging = _day(client.get(url + "?date=2026-11-01&environment=staging"), "2026-11-11")
    assert [e["label"] for e in staging if e["kind"] == "deployments"] == ["3 deployments"]
    assert not [e for e in _day(client.get(url + "?date=2026-11-01&environment=staging"), "2026-11-10")
                if e["kind"] == "deployments"]
    ledger = _day(client.get(url + "?date=2026-11-01&service=ledger"), "2026-11-10")
    assert [e["kind"] for e in ledger] == ["window", "freeze", "cab"]  # unscoped ones apply everywhere


@pytest.mark.parametrize("query,field", [("view=year", "view"), ("date=2026-13-01", "date"),
                                         ("kind=meetings", "kind"), ("service=nope", "service"),
                                         ("environment=nope", "environment")])
def test_bad_filters_answer_400_naming_the_field(client, requester, busy_month, query, field):
    client.force_login(requester)
    response = client.get(reverse("changes:calendar") + "?" + query)
    assert response.status_code == 400
    assert field in response.context["query"].errors
    assert f"<strong>{field}</strong>" in response.content.decode()


@pytest.mark.parametrize("view, bound", [("month", 11), ("week", 11), ("day", 12)])
def test_each_view_costs_a_fixed_number_of_queries(client, requester, busy_month, deployments, view, bound,
                                                   django_assert_max_num_queries):
    client.force_login(requester)
    url = reverse("changes:calendar") + f"?view={view}&date=2026-11-10"
    client.get(url)
    with django_assert_max_num_queries(bound) as few:
        client.get(url)
    deployments("2026-11-10", 150, environment="staging")
    deployments("2026-11-12", 150)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_the_calendar_needs_a_member(client, outsider):
    url = reverse("changes:calendar")
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_the_feed_url_answers_get_with_text_calendar(client, requester, simple_type, make_change, outsider):
    change = make_change(simple_type, submit=True)
    url = reverse("changes:calendar_feed_manage")
    # A calendar client: the secret as a token, no session.
    secret = calendar_feed_rotate(user=requester, actor=requester)
    response = client.get(url + f"?token={secret}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert any(change.number in str(e["summary"]) for e in Calendar.from_ical(response.content).walk("VEVENT"))
    assert client.get(url + "?token=guess").status_code == 404
    # Without a token: sign in first; then a member downloads their own feed, an outsider gets nothing.
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(requester)
    own = client.get(url)
    assert own.status_code == 200 and own["Content-Type"].startswith("text/calendar")
    assert change.number in own.content.decode()


def test_the_ics_url_answers_get_and_refuses_other_methods(client, requester):
    secret = calendar_feed_rotate(user=requester, actor=requester)
    url = reverse("changes:calendar_feed", args=[secret])
    assert client.get(url)["Content-Type"].startswith("text/calendar")
    assert client.post(url).status_code == 405
