"""The environment pages in a real browser: a release manager goes from the catalog's
environment list to production's page, opens the unauthorised run and sees the addresses it
destroyed; both pages fit a 390 px phone screen."""

from __future__ import annotations

import pytest

from apps.environments import services

from .conftest import real_plan, with_actions


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_release_manager_follows_an_unauthorised_run_to_its_addresses(page, browser_login, release_manager,
                                                                        environments, deployer):
    plan = with_actions(real_plan("basic"), {"null_resource.bar": ["delete"], "null_resource.foo": ["delete", "create"]})
    services.provision_record(environment=environments["prod"], tool="terraform", status="applied", plan=plan,
                              actor=deployer, repository="https://git.example.test/infrastructure/live-environments",
                              git_sha="d" * 40)
    browser_login("remy")
    page.goto("/environments/")
    page.click("a[href='/environments/prod/']")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("h1").inner_text() == "Production"
    assert page.locator("text=Unauthorised").count() == 1
    page.click("a[href^='/environments/provisions/']")
    page.wait_for_load_state("domcontentloaded")
    assert "Terraform run in Production" in page.locator("h1").inner_text()
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 8
    assert page.locator("tr:has-text('null_resource.bar') >> text=Delete").count() == 1
    assert page.locator("tr:has-text('null_resource.foo') >> text=Replace").count() == 1
    run_url = page.url
    page.set_viewport_size({"width": 390, "height": 800})
    for url in ("/environments/prod/", run_url):
        page.goto(url)
        wide = page.evaluate("Array.from(document.querySelectorAll('body *')).filter(e => "
                             "e.getBoundingClientRect().right > 391 && !e.closest('table'))"
                             ".map(e => e.tagName + '.' + e.className)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (url, wide)
