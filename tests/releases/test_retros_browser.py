"""End to end in Chromium: support files a user issue against a shipped release through the form;
a release manager reads the retrospectives and the pipeline template registry, also at 390 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.releases import retros
from apps.releases import templates_services as templates
from apps.releases.models import Release, UserIssue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_support_files_an_issue_and_a_release_manager_reads_the_loop(page, browser_login, requester, release,
                                                                     release_manager):
    Release.objects.filter(pk=release.pk).update(state="released", released_at=timezone.now())
    release.refresh_from_db()
    retro = retros.retrospective_open(kind="release", release=release, actor=release_manager)
    retros.retro_action_add(retrospective=retro, title="Refuse deployments whose dependencies have not shipped",
                            type="new_check", owner=release_manager, due_date=dt.date(2030, 1, 1),
                            link_kind="gate_rule", link_ref="releases.dependencies", actor=release_manager)
    template = templates.template_create(slug="container-service", name="Container service pipeline",
                                         actor=release_manager)
    templates.template_version_propose(template=template, version="2.1", actor=release_manager,
                                       required_stages=["build", "scan"], required_evidence_kinds=["junit"])

    browser_login("rita")
    page.goto(f"/releases/{release.pk}/issues/new/")
    page.fill("#id_title", "Order history is empty after login")
    page.select_option("#id_channel", "support")
    page.select_option("#id_impact", "high")
    page.fill("#id_customer_reference", "SUP-4821")
    page.get_by_role("button", name="File issue").click()
    page.wait_for_url(f"**/releases/{release.pk}/")
    issue = UserIssue.objects.get()
    assert (issue.title, issue.channel, issue.reported_by.username) == ("Order history is empty after login",
                                                                         "support", "rita")

    page.context.clear_cookies()
    browser_login(release_manager.username)
    page.goto("/releases/retrospectives/")
    page.get_by_text("Refuse deployments whose dependencies have not shipped").wait_for()
    assert "releases.dependencies" in page.content()
    page.goto("/releases/templates/")
    page.get_by_role("heading", name="Container service pipeline container-service").wait_for()
    page.set_viewport_size({"width": 390, "height": 800})
    for url in ("/releases/templates/", "/releases/retrospectives/", f"/releases/{release.pk}/issues/new/"):
        page.goto(url)
        assert _fits(page), url
