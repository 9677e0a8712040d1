"""Incident pages give timestamps in words in the viewer's timezone ("3 Dec 2026, 09:00 UTC") inside a
<time> element that keeps the ISO instant for machines; dates alone read "3 Dec 2026" (issue #16)."""

import re
from datetime import UTC, date, datetime

import pytest

from apps.incidents import services
from apps.incidents.models import Review
from apps.incidents.runbooks import runbook_create, runbook_test_record

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
RESOLVED = datetime(2026, 12, 3, 17, 24, tzinfo=UTC)


def shown_iso_dates(html: str) -> list[str]:
    """ISO dates a person would read: in text between tags, not in a datetime= attribute."""
    return re.findall(r">[^<]*\b(\d{4}-\d{2}-\d{2})\b[^<]*<", html)


@pytest.fixture
def resolved_incident(clock, service, requester, make_deployment):
    clock("2026-12-04 08:00")
    make_deployment(finished_at=datetime(2026, 12, 2, 18, 30, tzinfo=UTC), version="4.2")
    incident = services.incident_open(service=service, title="Card payments failing", severity="sev3",
                                      started_at=STARTED, resolved_at=RESOLVED, actor=requester)
    # Made directly: review_start also posts a timeline message, stored text with its own date.
    Review.objects.create(incident=incident, due_date=date(2026, 12, 10), status="completed",
                          completed_at=datetime(2026, 12, 3, 18, 5, tzinfo=UTC))
    return incident


def test_the_detail_page_gives_the_incident_times_in_words(client, requester, resolved_incident):
    client.force_login(requester)
    html = client.get(f"/incidents/{resolved_incident.pk}/").content.decode()
    assert '<dt>Started</dt><dd><time datetime="2026-12-03T09:00:00+00:00">3 Dec 2026, 09:00 UTC</time></dd>' in html
    assert '<dt>Resolved</dt><dd><time datetime="2026-12-03T17:24:00+00:00">3 Dec 2026, 17:24 UTC</time></dd>' in html
    assert "<dt>Mitigated</dt><dd>—</dd>" in html
    # The inferred deployment link and the review's due date read in words too.
    assert '<time datetime="2026-12-02T18:30:00+00:00">2 Dec 2026, 18:30 UTC</time>' in html
    assert "Due 10 Dec 2026" in html
    assert "2026-12-03 09:00" not in html and "2026-12-03 17:24" not in html and shown_iso_dates(html) == []


def test_the_review_page_gives_the_due_day_and_completion_in_words(client, requester, resolved_incident):
    client.force_login(requester)
    html = client.get(f"/incidents/{resolved_incident.pk}/review/").content.decode()
    assert "due 10 Dec 2026" in html
    assert '<dt>Completed</dt><dd><time datetime="2026-12-03T18:05:00+00:00">3 Dec 2026, 18:05 UTC</time></dd>' in html
    assert shown_iso_dates(html) == []


def test_an_option_label_gives_the_deployment_start_in_words_without_markup(client, requester, resolved_incident):
    client.force_login(requester)
    html = client.get(f"/incidents/{resolved_incident.pk}/").content.decode()
    # A <time> tag cannot live inside an <option>: the override list carries the words alone.
    assert " 4.2 · succeeded · 2 Dec 2026, 18:20 UTC</option>" in html
    assert "2026-12-02 18:20" not in html


def test_the_list_gives_started_and_resolved_in_words(client, requester, resolved_incident):
    client.force_login(requester)
    html = client.get("/incidents/").content.decode()
    assert '<time datetime="2026-12-03T09:00:00+00:00">3 Dec 2026, 09:00 UTC</time>' in html
    assert 'resolved <time datetime="2026-12-03T17:24:00+00:00">3 Dec 2026, 17:24 UTC</time>' in html
    assert "2026-12-03 09:00" not in html and shown_iso_dates(html) == []


def test_the_runbook_page_gives_test_times_in_words_and_the_last_pass_as_a_day(clock, client, requester, service):
    clock("2026-12-04 08:00")
    runbook = runbook_create(service=service, owner=requester, actor=requester)
    runbook_test_record(runbook=runbook, outcome="passed", actor=requester, tested_at=STARTED)
    client.force_login(requester)
    html = client.get(f"/runbooks/{service.slug}/").content.decode()
    assert "last passing test 3 Dec 2026" in html
    assert '<time datetime="2026-12-03T09:00:00+00:00">3 Dec 2026, 09:00 UTC</time>' in html
    assert "no test has passed since 1 Jul 2026 (the start of the last calendar quarter)" in html
    assert shown_iso_dates(html) == []
    listing = client.get("/runbooks/").content.decode()
    assert "tests since 1 Jul 2026 count" in listing and '<td class="small">3 Dec 2026</td>' in listing
    assert shown_iso_dates(listing) == []


def test_a_runbook_never_tested_still_says_never(clock, client, requester, service):
    clock("2026-12-04 08:00")
    runbook_create(service=service, owner=requester, actor=requester)
    client.force_login(requester)
    assert "last passing test never" in client.get(f"/runbooks/{service.slug}/").content.decode()
    assert '<td class="small">never</td>' in client.get("/runbooks/").content.decode()


def test_times_follow_the_viewers_timezone(settings, client, requester, resolved_incident):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(requester)
    html = client.get(f"/incidents/{resolved_incident.pk}/").content.decode()
    assert '<dt>Started</dt><dd><time datetime="2026-12-03T09:00:00+00:00">3 Dec 2026, 10:00 CET</time></dd>' in html


def test_the_review_started_entry_and_the_runbook_reminder_give_dates_in_words(clock, service, requester):
    from django.core import mail

    from apps.incidents.models import IncidentUpdate
    from apps.incidents.reviews import review_start
    from apps.incidents.tasks import remind_overdue_runbooks

    clock("2026-12-04 08:00")
    incident = services.incident_open(service=service, title="Checkout slow", severity="sev2",
                                      started_at=STARTED, resolved_at=RESOLVED, actor=requester)
    # A resolved SEV2 starts its review itself (through review_start); a SEV3 is started by hand.
    review = Review.objects.filter(incident=incident).first() or review_start(incident=incident, actor=requester)
    due = review.due_date
    entry = IncidentUpdate.objects.get(incident=incident, kind=IncidentUpdate.Kind.REVIEW)
    assert entry.message == f"Post-incident review started, due {due.day} {due:%b %Y}."
    assert due.isoformat() not in entry.message

    runbook = runbook_create(service=service, owner=requester, actor=requester)
    runbook_test_record(runbook=runbook, outcome="passed", actor=requester,
                        tested_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC))  # two quarters ago: overdue
    assert remind_overdue_runbooks() == 1
    assert "was last tested successfully: 2 Jun 2026." in mail.outbox[-1].body
    assert "2026-06-02" not in mail.outbox[-1].body


def test_the_footer_names_the_timezone_the_times_are_in(client, requester, resolved_incident, settings):
    client.force_login(requester)
    assert "times in UTC" in client.get(f"/incidents/{resolved_incident.pk}/").content.decode()
    settings.TIME_ZONE = "Europe/Berlin"
    html = client.get(f"/incidents/{resolved_incident.pk}/").content.decode()
    assert "times in Europe/Berlin" in html and "3 Dec 2026, 10:00 CET" in html
