"""The Django admin under the strict Content-Security-Policy: the index, changelists with search,
add and change forms (related-object widgets, fieldsets, the password widget) and an object's
history (django-simple-history's page carried an inline style: templates/simple_history/).
In headless Chromium, which reports each refusal as a console error naming "Content Security
Policy" (the test fails on any, and on any uncaught page error); and as served HTML, checked
for what the policy refuses, where no browser runs."""

from __future__ import annotations

import pytest

from tests.csp_html import csp_problems


@pytest.fixture
def admin_paths(superuser, team):
    from tests.factories import ServiceFactory

    service = ServiceFactory(slug="payments-api", owner_team=team)
    return ["/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{superuser.pk}/change/",
            "/admin/accounts/user/add/", "/admin/catalog/service/?q=pay", "/admin/catalog/service/add/",
            f"/admin/catalog/service/{service.pk}/change/", f"/admin/catalog/service/{service.pk}/history/",
            f"/admin/catalog/service/{service.pk}/delete/", f"/admin/accounts/user/{superuser.pk}/password/",
            "/admin/changes/changerequest/", "/admin/accounts/team/add/"]


@pytest.mark.django_db
def test_admin_pages_carry_nothing_the_policy_refuses(client, superuser, admin_paths):
    client.force_login(superuser)
    problems = []
    for path in admin_paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        problems += [f"{path}: {problem}" for problem in csp_problems(response.content.decode())]
    assert problems == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_pages_run_under_the_policy_in_a_browser(page, browser_login, admin_paths):
    console: list[str] = []
    at = {"path": ""}
    page.on("console", lambda msg: console.append(f"{at['path']}: {msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"{at['path']}: uncaught: {exc}"))
    browser_login("root")
    for path in admin_paths:
        at["path"] = path
        response = page.goto(path, wait_until="networkidle")
        assert response.status == 200, (path, response.status)
    refused = [line for line in console if "Content Security Policy" in line or ": uncaught: " in line]
    assert refused == [], "\n".join(refused)
