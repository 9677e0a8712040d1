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
    page.get_by_role("link", name="Audit log").click()
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
