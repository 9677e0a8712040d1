"""Chromium: grace opens a campaign, revokes one grant, keeps another with a justification,
closes the campaign; the revoked approver's next approval is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access_reviews.models import AccessGrant, ReviewItem
from apps.catalog.privileges import holds_privilege
from releaseportal.errors import NotAllowed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_grace_runs_a_campaign_and_the_revoked_approver_is_refused(page, browser_login, roles_ready, approver,
                                                                   requester, service, environments,
                                                                   production_change, grant_issuer):
    from apps.access_reviews.services import grant_create
    from apps.changes.services import approval_record
    from tests.factories import UserFactory

    # The demo's access admin, the only one; payments has no lead, so she reviews its grants herself.
    # Someone else issued them: nobody certifies a grant she issued (test_segregation.py).
    UserFactory(username="grace", first_name="Grace", roles=("access_admin",))
    revoke_me = grant_create(user=approver, privilege="approver", service=service, environment=environments["prod"],
                             justification="payments approver", actor=grant_issuer)
    keep_me = grant_create(user=requester, privilege="deployer", service=service, environment=environments["prod"],
                           justification="on-call deploys", actor=grant_issuer)
    AccessGrant.objects.filter(pk=revoke_me.pk).update(last_used_at=timezone.now() - timedelta(days=5))
    # Unused for 200 days: keeping it needs a justification.
    AccessGrant.objects.filter(pk=keep_me.pk).update(granted_at=timezone.now() - timedelta(days=200))

    browser_login("grace")
    page.goto("/access/campaigns/")
    page.fill("#c-name", "Payments production review")
    page.select_option("#c-scope", "team")
    page.select_option("#c-team", "payments")
    page.click("text=Open campaign")
    page.wait_for_selector("text=is open with 2 items")
    campaign_url = page.url

    page.goto("/access/reviews/")
    adam_row = page.locator("tr.review-item", has_text="adam")
    adam_row.get_by_role("button", name="Revoke").click()
    page.locator("tr.review-item.decided", has_text="adam").wait_for()

    rita_row = page.locator("tr.review-item", has_text="rita")
    assert "required to keep" in rita_row.inner_text()
    rita_row.get_by_role("button", name="Keep", exact=True).click()
    page.locator("tr.review-item", has_text="rita").get_by_role("alert").wait_for()
    assert "needs a justification" in page.locator("tr.review-item", has_text="rita").inner_text()
    rita_row = page.locator("tr.review-item", has_text="rita")
    rita_row.get_by_label("Justification").fill("Covers payments releases during the January freeze")
    rita_row.get_by_role("button", name="Keep", exact=True).click()
    page.locator("tr.review-item.decided", has_text="rita").wait_for()
    assert "January freeze" in page.locator("tr.review-item", has_text="rita").inner_text()

    page.goto(campaign_url)
    assert "100.0 %" in page.inner_text(".stats")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Close and apply revocations")
    page.wait_for_selector("text=Revoked 1 by decision")

    assert AccessGrant.objects.get(pk=revoke_me.pk).status == "revoked"
    assert AccessGrant.objects.get(pk=keep_me.pk).status == "active"
    assert ReviewItem.objects.get(grant=keep_me).justification.startswith("Covers payments releases")
    assert not holds_privilege(approver, "approver", service, environments["prod"])
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=production_change, approver=approver, decision="approve", comment="ship it")
    assert exc.value.code == "approver_privilege_required"
