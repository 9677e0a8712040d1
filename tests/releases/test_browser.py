"""The release page in a real browser: a release manager locks the scope, a late change needs a
scope exception signed by the train's roles, and the release ships in waves."""

from __future__ import annotations

import pytest

from apps.releases import services


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_release_manager_locks_scope_takes_a_late_change_on_an_exception_and_ships_in_waves(
        page, browser_login, release_manager, release, make_change, signers, services_three, environments):
    from apps.delivery.models import Deployment

    services.dependencies_set(service=services_three["payments-api"], depends_on=[services_three["ledger"]],
                              actor=release_manager)
    services.dependencies_set(service=services_three["web"], depends_on=[services_three["payments-api"]],
                              actor=release_manager)
    ledger_change = make_change(state="approved", env="prod", svc=services_three["ledger"])
    late = make_change(state="approved", env="prod")  # payments-api
    web_change = make_change(state="approved", env="prod", svc=services_three["web"])

    browser_login("remy")
    page.goto(f"/releases/{release.pk}/")
    page.fill("#add-change", ledger_change.number)
    page.get_by_role("button", name="Add to scope").click()
    page.fill("#add-change", web_change.number)
    page.get_by_role("button", name="Add to scope").click()
    page.get_by_role("button", name="Lock scope").click()
    assert page.locator("#release-state").inner_text().strip() == "Scope locked"

    # The late change bounces off the lock.
    page.fill("#add-change", late.number)
    page.get_by_role("button", name="Add to scope").click()
    assert "is locked" in page.content() and "product, security, operations" in page.content()

    # An exception, signed by three different people in their roles (product in the browser).
    page.fill("#exc-change", late.number)
    page.fill("#exc-reason", "Checkout regression fix")
    page.get_by_role("button", name="Ask for a scope exception").click()
    exception = release.scope_exceptions.get()
    assert page.get_by_text("waiting for product").is_visible()
    page.context.clear_cookies()  # sign out
    browser_login("pat")
    page.goto(f"/releases/{release.pk}/")
    page.get_by_role("button", name="Sign for product").click()
    assert page.get_by_text("Signed for product.").is_visible()
    for role in ("security", "operations"):
        services.scope_exception_sign(exception=exception, role=role, actor=signers[role])

    page.context.clear_cookies()
    browser_login("remy")
    page.goto(f"/releases/{release.pk}/")
    page.fill("#add-change", late.number)
    page.get_by_role("button", name="Add to scope").click()
    assert "Scope creep: 1 change added after the lock" in page.locator("#scope-creep").inner_text()
    page.get_by_role("button", name="Start shipping").click()
    assert page.locator("#release-state").inner_text().strip() == "In progress"

    # Wave by wave: ledger, then payments-api, then web; the page follows (htmx refresh).
    waves = page.locator("#waves table.wave")
    assert waves.count() == 3
    assert waves.nth(0).locator("tr[data-service=ledger]").count() == 1
    assert waves.nth(2).locator("tr[data-service=web]").count() == 1
    for svc, change in (("ledger", ledger_change), ("payments-api", late), ("web", web_change)):
        Deployment.objects.create(service=services_three[svc], environment=environments["prod"], change=change,
                                  status="succeeded")
        page.reload()
        row = page.locator(f"#waves tr[data-service='{svc}']")
        assert row.get_by_text("shipped").is_visible()
    page.get_by_role("button", name="Mark released").click()
    assert page.locator("#release-state").inner_text().strip() == "Released"

    # And the page holds at phone width.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/releases/{release.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
