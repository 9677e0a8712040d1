"""In Chromium at 390 px: the calendar's month, week and day views and the window page do not
overflow sideways, and "+N more" opens the day."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from apps.change_types.models import ChangeType
from apps.changes.models import ChangeRequest, MaintenanceWindow


def _at(text: str) -> datetime:
    from django.utils import timezone

    return datetime.fromisoformat(text).replace(tzinfo=timezone.get_fixed_timezone(0))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_calendar_views_fit_a_390px_phone(page, browser_login, person, service, environments, service_account):
    person("rosa", roles=("release_manager",), first_name="Rosa", last_name="Planner")
    standard = ChangeType.objects.create(slug="std-browser", name="Standard", is_pre_approved=True)
    start = _at("2026-11-10 10:00")
    ChangeRequest.objects.bulk_create([
        ChangeRequest(number=f"CHG-B{i:05d}", title=f"Deploy payments-api 3.21.{i} with a long release name",
                      change_type=standard, service=service, environment=environments["prod"],
                      requester=service_account, state="completed", planned_start=start + timedelta(minutes=i),
                      planned_end=start + timedelta(minutes=i + 20)) for i in range(60)])
    window = MaintenanceWindow.objects.create(name="Nightly database maintenance window for every service",
                                              starts_at=_at("2026-10-01 01:00"), duration_minutes=120,
                                              rrule="FREQ=DAILY", notice_amount=5, max_change_minutes=60)
    page.set_viewport_size({"width": 390, "height": 800})
    browser_login("rosa")
    for url in ("/changes/calendar/?view=month&date=2026-11-10", "/changes/calendar/?view=week&date=2026-11-10",
                "/changes/calendar/?view=day&date=2026-11-10", "/changes/schedule/",
                f"/changes/schedule/windows/{window.pk}/"):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width}px wide at 390px"
    page.goto("/changes/calendar/?view=month&date=2026-11-10")
    page.get_by_role("link", name="60 deployments").first.click()
    page.wait_for_load_state("domcontentloaded")
    assert "view=day" in page.url and "date=2026-11-10" in page.url
    assert page.get_by_text("Deploy payments-api 3.21.59", exact=False).count() == 1
