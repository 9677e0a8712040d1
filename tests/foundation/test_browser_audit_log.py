"""In a real headless Chromium: the auditor signs in, opens the audit log and filters it."""

import pytest

from apps.audit.services import PendingEvent, audit_events_record_many
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_erin_signs_in_opens_the_audit_log_and_filters_it(page, browser_login, roles_ready):
    erin = UserFactory(username="erin", roles=("auditor",), first_name="Erin")
    alice = UserFactory(username="alice", roles=("requester",))
    bob = UserFactory(username="bob", roles=("cab_member",))
    audit_events_record_many(events=[PendingEvent(action="change.submitted", object_type="changes.changerequest",
                                                  object_id="1", object_repr="CHG-000001 Rotate keys")], actor=alice)
    audit_events_record_many(events=[PendingEvent(action="change.approved", object_type="changes.changerequest",
                                                  object_id="1", object_repr="CHG-000001 Rotate keys")], actor=bob)

    browser_login(erin.username)
    assert page.locator("h1").first.inner_text().startswith("Good to see you")
    page.get_by_role("link", name="Audit log", exact=True).click()
    page.wait_for_url("**/audit/log/")
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 2

    page.get_by_label("Actor").fill("bob")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**actor=bob**")
    assert rows.count() == 1
    assert "change.approved" in rows.first.inner_text()
    assert "bob" in rows.first.inner_text()


def test_a_requester_has_no_audit_log_link_and_is_refused(page, browser_login, roles_ready):
    UserFactory(username="alice", roles=("requester",))
    browser_login("alice")
    assert page.get_by_role("link", name="Audit log").count() == 0
    response = page.goto("/audit/log/")
    assert response.status == 403


def test_erin_verifies_the_chain_from_the_browser(page, browser_login, roles_ready):
    from apps.audit.models import AuditEvent, ChainVerification

    erin = UserFactory(username="erin", roles=("auditor",), first_name="Erin", last_name="Kowalski")
    alice = UserFactory(username="alice", roles=("requester",))
    audit_events_record_many(events=[PendingEvent(action="change.submitted", object_type="changes.changerequest",
                                                  object_id=str(n), object_repr=f"CHG-00000{n}")
                                     for n in range(1, 6)], actor=alice)
    browser_login(erin.username)
    page.goto("/audit/log/")
    assert "Never verified" in page.locator("#chain-status").inner_text()
    page.get_by_role("button", name="Verify chain").click()
    # The worker runs eagerly here; with a real worker the section polls until it is done.
    page.locator("#chain-verdict", has_text="intact").wait_for()
    status = page.locator("#chain-status").inner_text()
    assert "Erin Kowalski (erin)" in status
    verification = ChainVerification.objects.get()
    assert verification.status == "intact" and verification.requested_by == erin
    assert f"#{verification.head_seq}" in status and verification.head_hash in status
    assert AuditEvent.objects.filter(action="audit.chain_verified", object_id=str(verification.pk)).exists()
    # The last verdict stays on the page.
    page.reload()
    assert page.locator("#chain-verdict").inner_text() == "intact"
