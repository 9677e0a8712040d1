"""The completion report: every item, decision, reviewer, timestamp and revocation, stored once."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access_reviews.evidence import campaign_reports_store, report_content
from apps.access_reviews.models import CampaignReport
from apps.access_reviews.services import campaign_close, item_decide

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_campaign(team_lead, access_admin, approver, requester, implementer, service, make_grant, open_campaign):
    revoked = make_grant(approver, service, "approver", last_used_days=2)
    kept = make_grant(requester, service, "deployer", days_old=200)
    make_grant(implementer, service, "deployer", days_old=300)  # undecided, inactive: policy revokes
    campaign = open_campaign(name="Q3 2026 review")
    item_decide(item=campaign.items.get(grant=revoked), decision="revoke", actor=team_lead)
    item_decide(item=campaign.items.get(grant=kept), decision="keep", justification="month-end releases",
                actor=team_lead)
    return campaign_close(campaign=campaign, actor=access_admin).campaign


def test_the_csv_lists_every_item_decision_and_revocation(closed_campaign, access_admin):
    reports = {r.format: r for r in campaign_reports_store(campaign=closed_campaign, actor=access_admin)}
    rows = list(csv.DictReader(io.StringIO(report_content(reports["csv"]).decode())))
    assert len(rows) == 3
    by_holder = {r["holder"]: r for r in rows}
    assert by_holder["adam"]["decision"] == "revoke" and by_holder["adam"]["outcome"] == "revoked"
    assert by_holder["adam"]["reviewer"] == "lena" and by_holder["adam"]["decided_by"] == "lena"
    assert by_holder["adam"]["decided_at"] and by_holder["adam"]["grant_revoked_at"]
    assert "revoked by lena" in by_holder["adam"]["revocation_reason"]
    assert by_holder["rita"]["justification"] == "month-end releases" and not by_holder["rita"]["grant_revoked_at"]
    assert by_holder["ivan"]["outcome"] == "revoked_by_policy" and by_holder["ivan"]["decision"] == ""
    assert by_holder["ivan"]["grant_revoked_at"]


def test_reports_are_stored_once_with_their_sha256(closed_campaign, access_admin):
    first = {r.format: r for r in campaign_reports_store(campaign=closed_campaign, actor=access_admin)}
    assert set(first) == {"csv", "pdf"}
    pdf = report_content(first["pdf"])
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == first["pdf"].sha256 and first["pdf"].size == len(pdf)
    again = {r.format: r for r in campaign_reports_store(campaign=closed_campaign, actor=access_admin)}
    assert {f: r.pk for f, r in again.items()} == {f: r.pk for f, r in first.items()}
    with pytest.raises(ValueError):
        first["csv"].save()
    assert CampaignReport.objects.count() == 2


def test_a_tampered_report_is_detected(closed_campaign, access_admin, settings):
    from django.core.files.storage import storages

    report = next(r for r in campaign_reports_store(campaign=closed_campaign, actor=access_admin) if r.format == "csv")
    with storages["archive"].open(report.path, "wb") as handle:
        handle.write(b"item,holder\n")
    with pytest.raises(ValueError):
        report_content(report)


def test_an_open_campaign_has_no_report(open_campaign, access_admin, approver, service, make_grant):
    make_grant(approver, service)
    campaign = open_campaign(due_date=timezone.localdate() + timedelta(days=3))
    assert campaign_reports_store(campaign=campaign, actor=access_admin) == []
