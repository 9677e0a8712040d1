"""In a real browser: a member of the owning team opens a high-risk production deployment, sees
the new log fingerprints, signs the first-hour review off, and the change may then complete; the
sign-off form fits a phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.changes.models import ChangeRequest
from apps.delivery.models import Deployment
from apps.validation import logreview
from apps.validation.models import LogReview
from tests.delivery.conftest import approve_fully, change_type  # noqa: F401  (fixtures)


@pytest.fixture
def reviewed_deployment(change_type, requester, implementer, service, environments, service_account):  # noqa: F811
    now = timezone.now()
    change = ChangeRequest.objects.create(
        title="Ledger rewrite", service=service, environment=environments["prod"], requester=requester,
        implementer=implementer, change_type=change_type, state="implementing", risk_level="high",
        planned_start=now - timedelta(hours=2), planned_end=now + timedelta(hours=2), rollback_plan="Redeploy",
        rollback_criteria={"error_rate_pct": 5, "window_minutes": 5})
    change.number = ChangeRequest.format_number(change.pk)
    change.save(update_fields=["number"])
    approve_fully(change)
    deployment = Deployment.objects.create(service=service, environment=environments["prod"], version="2.4.0",
                                           change=change, status="succeeded", created_by=service_account,
                                           started_at=now - timedelta(minutes=70))
    after = (deployment.started_at + timedelta(minutes=4)).isoformat()
    entries = logreview.clean_entries([
        {"fingerprint": "NullPointerException@LedgerWriter", "message": "NPE in LedgerWriter.flush", "count": 31,
         "first_seen": after}])
    logreview.log_review_record(deployment=deployment, entries=entries, actor=service_account)
    return deployment


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_team_member_signs_the_log_review_off_in_the_browser(page, browser_login, approver, reviewed_deployment):
    browser_login("adam")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/delivery/deployments/{reviewed_deployment.pk}/")
    assert "NPE in LedgerWriter.flush" in page.locator("#new-fingerprints").inner_text()
    form = page.locator("#log-review-sign-off")
    assert form.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at 390px"
    page.fill("#sign-off-note", "One new NPE, ticket LED-42 opened.")
    page.get_by_role("button", name="Sign off the log review").click()
    page.wait_for_load_state("domcontentloaded")
    assert "signed off" in page.content().lower()
    review = LogReview.objects.get()
    assert review.status == "signed_off" and review.signed_off_by == approver
    assert review.sign_off_note == "One new NPE, ticket LED-42 opened."
    assert logreview.close_guard(reviewed_deployment.change, "completed") is None
