"""Access review pages and the PDF completion report give timestamps in words in the viewer's
timezone ("3 Dec 2026, 09:15 UTC", a <time> element on pages) and dates as "17 Dec 2026"; the CSV
keeps ISO for machines (issue #16)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from apps.access_reviews.evidence import campaign_reports_store, report_content
from apps.access_reviews.models import AccessGrant
from apps.access_reviews.services import campaign_close, item_decide

pytestmark = pytest.mark.django_db

OPENED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DECIDED = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)
CLOSED = datetime(2026, 12, 4, 16, 45, tzinfo=UTC)


def shown_iso_dates(html: str) -> list[str]:
    """ISO dates a person would read: in text between tags, not in attributes (datetime=, min=, value=)."""
    return re.findall(r">[^<]*\b(\d{4}-\d{2}-\d{2})\b[^<]*<", html)


@pytest.fixture
def decided(clock, team_lead, requester, approver, service, make_grant, open_campaign):
    """Two grants granted 2 Nov and last used 20 Nov, in a campaign due 17 Dec: adam's approver grant
    kept until 31 Mar 2027 by lena at 09:15, rita's deployer grant still waiting for her."""
    clock("2026-12-03 09:00")
    kept, waiting = make_grant(approver, service, "approver"), make_grant(requester, service, "deployer")
    AccessGrant.objects.filter(pk__in=[kept.pk, waiting.pk]).update(
        granted_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC), last_used_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC))
    campaign = open_campaign(name="Q4 review", due_date=date(2026, 12, 17), now=OPENED)
    item_decide(item=campaign.items.get(grant=kept), decision="keep_until", keep_until=date(2027, 3, 31),
                justification="quarter-end releases", actor=team_lead, now=DECIDED)
    return campaign


def test_the_reviewer_page_gives_days_in_words(client, team_lead, decided):
    client.force_login(team_lead)
    html = client.get(reverse("access_reviews:reviews")).content.decode()
    assert "Last used: 20 Nov 2026" in html and "Granted 2 Nov 2026" in html
    assert "Q4 review (due 17 Dec 2026)</option>" in html
    assert shown_iso_dates(html) == []


def test_the_campaign_page_gives_the_decision_time_in_words(client, access_admin, decided):
    client.force_login(access_admin)
    html = client.get(reverse("access_reviews:campaign", args=[decided.pk])).content.decode()
    assert "Keep until 31 Mar 2027</span>" in html
    assert 'by lena · <time datetime="2026-12-03T09:15:00+00:00">3 Dec 2026, 09:15 UTC</time>' in html
    assert "due 17 Dec 2026" in html
    assert "2026-12-03 09:15" not in html and shown_iso_dates(html) == []


def test_a_closed_campaign_gives_due_and_closed_in_words(client, access_admin, decided):
    campaign_close(campaign=decided, actor=access_admin, now=CLOSED, generate_reports=False)
    client.force_login(access_admin)
    html = client.get(reverse("access_reviews:campaign", args=[decided.pk])).content.decode()
    assert 'closed <time datetime="2026-12-04T16:45:00+00:00">4 Dec 2026, 16:45 UTC</time>' in html
    assert "due 17 Dec 2026" in html
    assert "2026-12-04 16:45" not in html and shown_iso_dates(html) == []
    listing = client.get(reverse("access_reviews:campaigns")).content.decode()
    assert "opened 3 Dec 2026" in listing and "<td>17 Dec 2026</td>" in listing
    assert shown_iso_dates(listing) == []


def test_the_grant_list_gives_days_in_words(client, access_admin, decided):
    client.force_login(access_admin)
    html = client.get(reverse("access_reviews:grants")).content.decode()
    assert "<td>20 Nov 2026</td>" in html and "2 Nov 2026 by ines" in html and "2026-11-02" not in html
    assert shown_iso_dates(html) == []


def test_the_pdf_report_gives_times_in_words_and_the_csv_keeps_iso(clock, access_admin, decided):
    from pypdf import PdfReader

    campaign = campaign_close(campaign=decided, actor=access_admin, now=CLOSED, generate_reports=False).campaign
    clock("2026-12-04 17:00")
    reports = {r.format: r for r in campaign_reports_store(campaign=campaign, actor=access_admin)}
    pdf = PdfReader(io.BytesIO(report_content(reports["pdf"])))
    text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    assert "opened 3 Dec 2026, 09:00 UTC by" in text and "due 17 Dec 2026" in text
    assert "closed 4 Dec 2026, 16:45 UTC by" in text and "generated 4 Dec 2026, 17:00 UTC" in text
    assert "keep_until 31 Mar 2027" in text and "lena 3 Dec 2026, 09:15 UTC" in text and "20 Nov 2026" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    row = next(r for r in csv.DictReader(io.StringIO(report_content(reports["csv"]).decode())) if r["decided_at"])
    assert row["decided_at"] == "2026-12-03T09:15:00+00:00" and row["keep_until"] == "2027-03-31"
