"""Chromium: erin, an auditor, requests a SOX control pack in the workspace, watches it become
ready, downloads it, and the download verifies offline."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent, EvidencePack
from releaseportal import verify
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_erin_requests_a_control_pack_and_downloads_it(page, browser_login, roles_ready, quarter_data, tmp_path):
    UserFactory(username="erin", roles=("auditor",), first_name="Erin")
    browser_login("erin")
    page.get_by_role("link", name="Audit workspace").click()
    page.wait_for_url("**/audit/")
    # Choosing the scope swaps in that scope's form (htmx): fill it only once the swap is done, or
    # the swap can land after the typing and empty the required fields (no submit, no pack).
    with page.expect_response("**/audit/packs/form/?scope=control_period"):
        page.get_by_label("Scope").select_option("control_period")
    page.wait_for_function("() => !document.querySelector('#pack-request.htmx-swapping, #pack-request.htmx-settling,"
                           " .htmx-request')")
    page.get_by_label("Control pack", exact=True).select_option("sox_change_management")
    page.get_by_label("From", exact=True).fill("2026-07-01")
    page.get_by_label("To", exact=True).fill("2026-07-31")
    # The form posts and the portal redirects back to /audit/, where the page already is: wait
    # for that navigation itself, or the pack may not be written yet. With eager Celery the POST
    # builds the whole pack (PDF included) before it answers: on a busy machine, well over 15 s.
    with page.expect_navigation(url="**/audit/", timeout=90_000):
        page.get_by_role("button", name="Request pack").click()
    pack = EvidencePack.objects.get()
    row = page.locator(f"#pack-{pack.pk}")
    row.get_by_text("ready").wait_for()
    assert "4 exceptions" in row.inner_text()
    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    target = tmp_path / "pack.zip"
    info.value.save_as(target)
    assert not verify.verify(str(target)).ok  # not without the portal's published key…
    page.goto("/audit/keys/")  # …which erin saves from the keys page
    published = page.locator("table.data pre").first.inner_text().strip() + "\n"
    assert verify.verify(str(target), [published.encode()]).ok
    assert AuditEvent.objects.filter(action="evidence_pack.downloaded", actor_label="erin").count() == 1


def test_a_requester_sees_no_workspace(page, browser_login, roles_ready):
    UserFactory(username="alice", roles=("requester",))
    browser_login("alice")
    assert page.get_by_role("link", name="Audit workspace").count() == 0
    assert page.goto("/audit/").status == 403
