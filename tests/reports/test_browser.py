"""Chromium: an executive opens the DORA dashboard, reads the figures, changes the period and
the scope (htmx swaps the figures in place and the address follows), generates the month's
PDF and downloads it."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_executive_reads_the_dashboard_changes_period_and_scope_and_downloads_the_pdf(
        page, browser_login, executive, october, tmp_path):
    browser_login("exec")
    page.goto("/reports/?month=2026-10")
    figures = page.locator("#figures")
    # The title sits above the filter and the figures; the htmx swap replaces it out of band.
    assert page.get_by_role("heading", level=1).inner_text() == "DORA metrics · Organisation"
    cfr = figures.locator('.key[data-key="change_failure_rate"]')
    assert cfr.locator(".value").inner_text() == "57.1 %"  # 4 of 7 production deployments failed
    assert "4 of 7 deployments failed" in cfr.inner_text()
    table = figures.locator("#breakdown")
    assert table.get_by_role("link", name="Identity").is_visible()
    assert table.get_by_role("link", name="Payments").is_visible()
    assert len(figures.locator("svg").all()) == 5

    # A marker on the window survives an htmx swap, not a page load.
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Scope", exact=True).select_option("payments")
    page.wait_for_url("**/reports/?*team=payments*")
    page.get_by_role("heading", name="DORA metrics · Payments", level=1).wait_for()
    assert figures.locator('.key[data-key="change_failure_rate"] .value').inner_text() == "50.0 %"  # 2 of 4
    assert figures.locator("#breakdown").get_by_role("link", name="Payments API").is_visible()
    assert not figures.locator("#breakdown").get_by_role("link", name="Identity").count()

    page.get_by_label("Month", exact=True).select_option("2026-09")
    page.wait_for_url("**month=2026-09*")
    figures.get_by_text("September 2026").first.wait_for()
    assert "1 deployments" in figures.locator('.key[data-key="deployment_frequency"]').inner_text()
    assert page.evaluate("window.stillTheSamePage") is True

    # Back to October: no stored report yet, so the executive generates it ...
    page.get_by_label("Month", exact=True).select_option("2026-10")
    figures.get_by_role("button", name="Generate the October 2026 report (PDF)").click()
    page.get_by_text("Generated DORA 2026-10 team:payments v1").wait_for()
    # ... and downloads it from the dashboard.
    page.goto("/reports/?month=2026-10&team=payments")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the October 2026 report (PDF, v1)").click()
    download = download_info.value
    assert download.suggested_filename == "dora-2026-10-payments-v1.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    reader = PdfReader(io.BytesIO(target.read_bytes()))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Payments" in text and "October 2026" in text
    assert "2 failed of 4 production deployments" in text
    assert "lead_times.csv" in reader.attachments
