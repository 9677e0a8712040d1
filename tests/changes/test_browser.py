"""In Chromium: bob works his queue and approves without a page reload; alice has no approve
button on her own change, and a forged POST from her browser is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


@pytest.fixture
def browser_people(person, team, other_team):
    return {"bob": person("bob", roles=("approver", "cab_member"), team=other_team, first_name="Bob"),
            "alice": person("alice", roles=("requester",), team=team, first_name="Alice")}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_bob_approves_from_his_queue_and_sees_it_move_on(page, browser_login, browser_people, make_type, make_change):
    change_type = make_type("browser", [{"name": "Approval", "group": "approver"}])
    first = make_change(change_type, submit=True, title="Rotate payment keys")
    second = make_change(change_type, submit=True, title="Tune connection pool")
    browser_login("bob")
    page.goto("/changes/queue/")
    expect(page.locator("#count-total")).to_have_text("2")
    page.get_by_role("button", name=f"Approve {first.number}").click()
    row = page.locator(f"#queue-row-{first.pk}")
    expect(row).to_contain_text("your approval is recorded")
    expect(row).to_contain_text("Approved")
    # The second one: open it, read the plan, approve with a comment — the page is not reloaded.
    page.get_by_role("link", name=second.number).click()
    expect(page.get_by_role("heading", name=re.compile("Approvals"))).to_be_visible()
    page.evaluate("window.__noReload = true")
    page.fill("#decision-comment", "Pool sizes look right")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#approval-panel")).to_contain_text("Pool sizes look right")
    expect(page.locator("#change-state")).to_have_text("Approved")
    assert page.evaluate("window.__noReload") is True
    page.goto("/changes/queue/")
    expect(page.locator("#count-total")).to_have_text("0")
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_alice_has_no_approve_button_on_her_own_change(page, browser_login, browser_people, make_type, service,
                                                      environments):
    from datetime import timedelta

    from django.utils import timezone

    from apps.changes.models import Approval
    from apps.changes.services import change_create, change_submit

    alice = browser_people["alice"]
    change_type = make_type("browser2", [{"name": "Team", "team": True}])  # alice's own team decides
    env = environments["staging"]
    start = timezone.now() + timedelta(days=2)
    change = change_create(actor=alice, title="Alice's own change", change_type=change_type, service=service,
                           environment=env, planned_start=start, planned_end=start + timedelta(hours=1))
    change_submit(change=change, actor=alice)
    browser_login("alice")
    page.goto(f"/changes/{change.number}/")
    expect(page.get_by_role("heading", name=re.compile("Alice's own change"))).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.locator("#no-decision")).to_contain_text("segregation of duties")
    status = page.evaluate("""async (url) => {
        const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
        const r = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': token},
                                    body: new URLSearchParams({decision: 'approve'})});
        return r.status; }""", f"/changes/{change.number}/decide/")
    assert status == 403
    assert not Approval.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_cab_member_rejects_from_the_queue_and_bulk_approves_standard_changes(page, browser_login, browser_people,
                                                                                make_type, make_change, team):
    """Cate (CAB member) rejects one change with a reason: the counter follows without a reload;
    then ticks two standard changes and approves them in one go. At 390 px nothing overflows."""
    from apps.changes.models import Approval
    from apps.changes.selectors import is_standard_change
    from tests.factories import ServiceFactory

    quiet = ServiceFactory(slug="docs-site", name="Docs site", owner_team=team, tier=4, compliance_scopes=[])
    change_type = make_type("browser3", [{"name": "CAB", "group": "cab_member"}])
    doomed = make_change(change_type, submit=True, title="Drop the audit table", service=quiet)
    first = make_change(change_type, submit=True, title="Bump docs theme", service=quiet)
    second = make_change(change_type, submit=True, title="Fix docs typo", service=quiet)
    assert is_standard_change(first) and is_standard_change(second)
    browser_login("bob")
    page.goto("/changes/queue/")
    expect(page.locator("#count-total")).to_have_text("3")
    page.evaluate("window.__noReload = true")
    page.get_by_text("Reject…").first.click()
    row = page.locator(f"#queue-row-{doomed.pk}")
    row.get_by_label(re.compile(f"Why reject {doomed.number}")).fill("It removes audit evidence")
    row.get_by_role("button", name=f"Reject {doomed.number}").click()
    expect(page.locator(f"#queue-row-{doomed.pk}")).to_contain_text("your rejection is recorded")
    expect(page.locator("#count-total")).to_have_text("2")
    assert page.evaluate("window.__noReload") is True
    assert Approval.objects.get(change=doomed).comment == "It removes audit evidence"
    page.get_by_label(f"Select {first.number} for bulk approval").check()
    page.get_by_label(f"Select {second.number} for bulk approval").check()
    page.get_by_role("button", name="Approve selected standard changes").click()
    expect(page.locator("#bulk-result")).to_contain_text("2 of 2")
    expect(page.locator("#count-total")).to_have_text("0")
    assert page.evaluate("window.__noReload") is True
    assert set(Approval.objects.filter(decision="approve").values_list("change__number", flat=True)) == {
        first.number, second.number}
    # A phone: the queue's rows stack; the page never scrolls sideways.
    make_change(change_type, submit=True, title="One more for the phone", service=quiet)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/changes/queue/")
    expect(page.locator("#count-total")).to_have_text("1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
