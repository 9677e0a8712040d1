"""End to end in Chromium: open an incident, post an update (htmx), attach a file, start a review."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents.models import Incident, IncidentAttachment, Review

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_engineer_runs_an_incident_in_the_browser(page, browser_login, requester, service, tmp_path):
    browser_login("rita")
    page.goto("/incidents/")
    page.get_by_role("link", name="Open an incident").click()
    page.select_option("#id_service", "payments-api")
    page.fill("#id_title", "Payments timing out")
    page.select_option("#id_severity", "sev2")
    started = timezone.localtime() - timedelta(minutes=20)
    page.fill("#id_started_at", started.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Open incident").click()
    page.wait_for_url("**/incidents/*/")
    incident = Incident.objects.get(title="Payments timing out")
    assert page.locator("h1").inner_text().startswith(incident.reference)

    # post an update through htmx: the timeline and the status badge change without a reload
    page.fill("#id_update_message", "Connection pool raised; error rate falling")
    page.select_option("#id_update_status", "mitigated")
    page.get_by_role("button", name="Post update").click()
    page.locator(".timeline").get_by_text("Connection pool raised; error rate falling").wait_for()
    page.locator("#incident-status-badges").get_by_text("Mitigated").wait_for()
    incident.refresh_from_db()
    assert incident.status == "mitigated"

    # attach pre-rollback evidence
    log = tmp_path / "api-before-rollback.log"
    log.write_bytes(b"ERROR pool exhausted\n" * 20)
    page.select_option("#id_kind", "log")
    page.set_input_files("#id_file", str(log))
    page.get_by_role("button", name="Attach").click()
    page.locator("#evidence").get_by_role("link", name="api-before-rollback.log").wait_for()
    attachment = IncidentAttachment.objects.get(incident=incident)
    assert len(attachment.sha256) == 64

    # start the blameless review
    page.get_by_role("button", name="Start a review").click()
    page.wait_for_url(f"**/incidents/{incident.pk}/review/")
    page.fill("#id_summary", "The pool was sized for last year's traffic.")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Review saved.").wait_for()
    review = Review.objects.get(incident=incident)
    assert review.summary == "The pool was sized for last year's traffic."
    assert review.status == "draft"
