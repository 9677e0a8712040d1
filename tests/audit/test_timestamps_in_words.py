"""The auditor's pages give timestamps in words and the viewer's timezone ("2 Dec 2026, 17:24 UTC")
in <time> elements carrying the ISO instant, and dates alone as "1 Jan 2026"; the evidence pack's
summary PDF reads its times in words too, in the portal's timezone whoever generates it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import LegalHold, SigningKey
from apps.audit.packs.summary import summary_html

pytestmark = pytest.mark.django_db

APPROVED = dt.datetime(2026, 12, 2, 17, 24, tzinfo=dt.UTC)
STARTED = dt.datetime(2026, 12, 3, 8, 15, tzinfo=dt.UTC)


def test_the_workspace_search_gives_its_times_in_words(client, auditor, clock, make_change, make_deployment):
    clock("2026-12-03 09:00")
    change = make_change(approved_at=APPROVED, title="Rotate keys")
    make_deployment(change=change, started_at=STARTED)
    client.force_login(auditor)
    html = client.get("/audit/", {"q": "payments-api"}).content.decode()
    assert '<time datetime="2026-12-02T17:24:00+00:00">2 Dec 2026, 17:24 UTC</time>' in html  # change approved
    assert '<time datetime="2026-12-03T08:15:00+00:00">3 Dec 2026, 08:15 UTC</time>' in html  # deployment started
    events = client.get("/audit/", {"q": "Rotate keys"}).content.decode()
    assert '<time datetime="2026-12-03T09:00' in events and "3 Dec 2026, 09:00 UTC</time>" in events
    for body in (html, events):
        assert "2026-12-02 17:24" not in body and "2026-12-03 08:15" not in body and "2026-12-03 09:00" not in body


def test_holds_and_keys_give_dates_and_times_in_words(client, auditor, service):
    LegalHold.objects.create(title="Case 9", reason="Subpoena", service=service,
                             period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), placed_by=auditor,
                             placed_at=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC),
                             released_by=auditor, released_at=dt.datetime(2026, 12, 2, 11, 0, tzinfo=dt.UTC),
                             release_reason="Settled")
    SigningKey.objects.create(key_id="a" * 64, public_key_pem="-", first_used_at=dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC),
                              retired_at=dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC))
    client.force_login(auditor)
    holds = client.get("/audit/holds/").content.decode()
    assert "1 Jan 2026 to …" in holds and "2 Dec 2026: Settled" in holds
    assert '<time datetime="2026-12-01T10:30:00+00:00">1 Dec 2026, 10:30 UTC</time>' in holds
    assert "2026-01-01" not in holds and "2026-12-01 10:30" not in holds
    keys = client.get("/audit/keys/").content.decode()
    assert '<time datetime="2026-03-04T05:06:00+00:00">4 Mar 2026, 05:06 UTC</time>' in keys
    assert "retired 30 Sep 2026" in keys and "2026-09-30" not in keys and "2026-03-04 05:06" not in keys


def test_the_summary_pdf_reads_its_times_in_words_in_the_portals_timezone():
    row = {"deployment_id": "7", "service": "payments-api", "started_at": "2026-07-01T09:00:00.000000Z",
           "change": "", "requester": "", "approved_at": "2026-06-30T16:45:00.000000Z", "exceptions": "no_change"}
    context = {"params": {}, "title": "July", "counts": {"exceptions_by_kind": {}}, "exceptions": [row],
               "key_id": "k", "control_items": [], "development_key": False}
    html = summary_html(**context)
    assert "1 Jul 2026, 09:00 UTC" in html and "30 Jun 2026, 16:45 UTC" in html
    assert "2026-07-01T09:00" not in html
    with timezone.override("Asia/Tokyo"):  # whoever asks, the pack hashes the same
        assert summary_html(**context) == html
