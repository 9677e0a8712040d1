"""Release pages give timestamps in words in the viewer's timezone ("18 Jun 2026, 10:00 UTC") inside a
<time> element that keeps the ISO instant for machines; an option label carries the words alone
(issue #16)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.changes.models import CabMeeting
from apps.releases import services

pytestmark = pytest.mark.django_db

LOCK = datetime(2026, 6, 17, 16, 30, tzinfo=UTC)
START = datetime(2026, 6, 18, 10, 0, tzinfo=UTC)


def shown_iso_dates(html: str) -> list[str]:
    """ISO dates a person would read: in text between tags, not in a datetime= attribute."""
    return re.findall(r">[^<]*\b(\d{4}-\d{2}-\d{2})\b[^<]*<", html)


@pytest.fixture
def fixed_release(train, release_manager, services_three):
    return services.release_create(actor=release_manager, name="June release", train=train, planned_start=START,
                                   scope_lock_at=LOCK, services=list(services_three.values()))


def test_the_release_page_gives_scope_lock_and_start_in_words(client, release_manager, fixed_release):
    client.force_login(release_manager)
    html = client.get(f"/releases/{fixed_release.pk}/").content.decode()
    assert ('scope locks <time datetime="2026-06-17T16:30:00+00:00">17 Jun 2026, 16:30 UTC</time> · '
            'starts <time datetime="2026-06-18T10:00:00+00:00">18 Jun 2026, 10:00 UTC</time>') in html
    assert "2026-06-17 16:30" not in html and "2026-06-18 10:00" not in html and shown_iso_dates(html) == []


def test_the_release_list_gives_scope_lock_and_start_in_words(client, release_manager, fixed_release):
    client.force_login(release_manager)
    html = client.get("/releases/").content.decode()
    assert '<td class="small"><time datetime="2026-06-17T16:30:00+00:00">17 Jun 2026, 16:30 UTC</time></td>' in html
    assert '<td class="small"><time datetime="2026-06-18T10:00:00+00:00">18 Jun 2026, 10:00 UTC</time></td>' in html
    assert "2026-06-18 10:00" not in html


def test_a_cab_meeting_option_gives_its_start_in_words_without_markup(client, release_manager, fixed_release,
                                                                      cab_member, make_change):
    change = make_change(state="in_review", env="prod", cab_required=True,
                         submitted_at=timezone.now() - timedelta(hours=2))
    services.release_change_add(release=fixed_release, change=change, actor=release_manager)
    CabMeeting.objects.create(title="Weekly CAB", starts_at=datetime(2026, 6, 17, 14, 0, tzinfo=UTC), quorum=1,
                              chair=cab_member)
    client.force_login(release_manager)
    html = client.get(f"/releases/{fixed_release.pk}/").content.decode()
    # A <time> tag cannot live inside an <option>: the label carries the words alone.
    assert re.search(r'<option value="\d+">Weekly CAB 17 Jun 2026, 14:00 UTC</option>', html)
    assert "2026-06-17 14:00" not in html


def test_the_train_page_gives_its_anchor_and_next_windows_in_words(client, release_manager, services_three, clock):
    clock("2026-06-16 10:00")
    services.train_create(actor=release_manager, slug="regulated", name="Regulated", cadence="quarterly",
                          reason="regulatory", signoff_roles=["product"], window_hours=48,
                          cadence_anchor=datetime(2026, 1, 1, 8, tzinfo=UTC), services=[services_three["ledger"]])
    client.force_login(release_manager)
    html = client.get("/releases/trains/regulated/").content.decode()
    assert 'windows of 48 h from <time datetime="2026-01-01T08:00:00+00:00">1 Jan 2026, 08:00 UTC</time>' in html
    assert re.search(r'<li><time datetime="2026-07-01T08:00:00\+00:00">1 Jul 2026, 08:00 UTC</time> – '
                     r'<time datetime="2026-07-03T08:00:00\+00:00">3 Jul 2026, 08:00 UTC</time></li>', html)
    assert "2026-07-01 08:00" not in html and shown_iso_dates(html) == []
