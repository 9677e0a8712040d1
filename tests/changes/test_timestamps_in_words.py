"""CAB meeting pages give their times in words and the viewer's timezone ("10 Dec 2026, 14:30
UTC") in <time> elements carrying the ISO instant, never as "2026-12-10 14:30"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.changes.cab import cab_meeting_create

pytestmark = pytest.mark.django_db

STARTS = datetime(2026, 12, 10, 14, 30, tzinfo=UTC)


@pytest.fixture
def meeting(clock, release_manager, cab_member):
    clock("2026-12-03 09:00")
    return cab_meeting_create(actor=release_manager, title="Weekly CAB", starts_at=STARTS, quorum=1,
                              members=[cab_member])


def test_the_cab_pages_give_the_meeting_time_in_words(client, release_manager, meeting):
    client.force_login(release_manager)
    listing = client.get("/changes/cab/").content.decode()
    page = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    tag = '<time datetime="2026-12-10T14:30:00+00:00">10 Dec 2026, 14:30 UTC</time>'
    assert tag in listing
    assert f"<h1>Weekly CAB — {tag}</h1>" in page and "/ 10 Dec 2026</div>" in page  # heading and breadcrumb
    for body in (listing, page):
        assert "2026-12-10 14:30" not in body and "2026-12-10<" not in body


def test_the_cab_pages_read_in_the_viewers_timezone(client, release_manager, meeting, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    client.force_login(release_manager)
    page = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    assert '<time datetime="2026-12-10T14:30:00+00:00">11 Dec 2026, 03:30 NZDT</time>' in page
    assert "/ 11 Dec 2026</div>" in page


def test_the_dashboard_panels_give_meetings_and_windows_in_words(meeting):
    from django.template.loader import render_to_string

    window = {"start": datetime(2026, 12, 5, 22, 0, tzinfo=UTC), "end": datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
              "window": {"name": "Weekend"}}
    upcoming = render_to_string("changes/panels/upcoming.html", {"data": {"changes": [], "meetings": [],
                                                                          "windows": [window]}})
    assert ('<time datetime="2026-12-05T22:00:00+00:00">5 Dec 2026, 22:00 UTC</time> to '
            '<time datetime="2026-12-07T06:00:00+00:00">7 Dec 2026, 06:00 UTC</time> · Weekend') in upcoming
    today = render_to_string("changes/panels/cab_today.html", {"data": {"meetings": [meeting]}})
    assert 'at <time datetime="2026-12-10T14:30:00+00:00">10 Dec 2026, 14:30 UTC</time>' in today
