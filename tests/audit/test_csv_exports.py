"""Issue #17: every CSV export goes through releaseportal.csvexport, which neutralises
spreadsheet formulas (a cell starting with = + - @ tab or CR gets a single quote in front) and
declares UTF-8. One test per export: the audit log (tests/audit/test_audit_log_page.py), the
reconciliation, the evidence pack's listings and the access-review report."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from releaseportal.csvexport import CONTENT_TYPE, csv_lines, csv_text, neutralise

from .conftest import CONTROL_JULY, at
from .packs import generate, pack_path, read_csv

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("x")'


@pytest.mark.parametrize("value, written", [
    (HOSTILE, "'" + HOSTILE), ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("plain = text", "plain = text"), (-5, -5), (None, ""), ("", ""),
])
def test_the_writer_neutralises_formula_prefixes_of_text_only(value, written):
    assert neutralise(value) == written


def test_the_writer_quotes_properly_and_can_start_with_a_bom():
    text = csv_text(["a", "b"], [[HOSTILE, "x,y"]])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'" + HOSTILE, "x,y"]]
    assert next(iter(csv_lines(["a"], [], bom=True))).startswith("\ufeffa")
    assert CONTENT_TYPE == "text/csv; charset=utf-8"


def test_the_reconciliation_csv_neutralises_formulas_and_declares_utf8(client, auditor, make_change, make_deployment):
    change = make_change(approved_at=at(1, 9))
    make_deployment(change=change, started_at=at(2), version=HOSTILE)
    client.force_login(auditor)
    response = client.get("/delivery/reconciliation/", {"month": "2026-07", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [row["version"] for row in rows] == ["'" + HOSTILE]


def test_the_reconciliation_csv_is_refused_to_outsiders(client, outsider, requester):
    assert client.get("/delivery/reconciliation/", {"format": "csv"}).status_code == 302
    for user in (outsider, requester):
        client.force_login(user)
        assert client.get("/delivery/reconciliation/", {"format": "csv"}).status_code == 403


def test_the_evidence_pack_listings_neutralise_formulas(auditor, make_change, make_deployment,
                                                        django_capture_on_commit_callbacks):
    change = make_change(approved_at=at(1, 9), title=HOSTILE)
    make_deployment(change=change, started_at=at(2), version="-1")
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        changes = read_csv(zf, "listings/changes.csv")
        deployments = read_csv(zf, "listings/deployments.csv")
    assert [row["title"] for row in changes] == ["'" + HOSTILE]
    assert [row["version"] for row in deployments] == ["'-1"]


def test_the_access_review_csv_goes_through_the_shared_writer(client, auditor, access_admin, approver, service,
                                                              environments):
    from apps.access_reviews.evidence import campaign_reports_store
    from apps.access_reviews.services import campaign_close, campaign_open, grant_create, item_decide

    grant_create(user=approver, privilege="approver", service=service, environment=environments["prod"],
                 justification="on call", actor=auditor)
    from datetime import timedelta

    from django.utils import timezone

    campaign = campaign_open(name="Q3", due_date=timezone.localdate() + timedelta(days=14), actor=access_admin)
    item = campaign.items.get()
    item_decide(item=item, decision="keep", actor=access_admin, justification=HOSTILE)
    closed = campaign_close(campaign=campaign, actor=access_admin).campaign
    campaign_reports_store(campaign=closed, actor=access_admin, formats=["csv"])
    client.force_login(auditor)
    response = client.get(f"/access/campaigns/{campaign.pk}/report.csv")
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [row["justification"] for row in rows] == ["'" + HOSTILE]
