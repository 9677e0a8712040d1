"""The delivery pages in a real browser: a release manager follows a deployment to its artifact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery import services
from apps.delivery.models import Deployment

from . import documents as docs


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_release_manager_follows_a_deployment_to_its_evidence(page, browser_login, release_manager, make_artifact,
                                                                environments, deployer):
    artifact = make_artifact()
    services.evidence_attach(artifact=artifact, kind="cyclonedx",
                             data=docs.as_bytes(docs.cyclonedx([("left-pad", "MIT"), ("copyleft", "AGPL-3.0-only")])),
                             actor=deployer)
    now = timezone.now()
    Deployment.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                              version=artifact.version, status="succeeded", started_at=now - timedelta(minutes=9),
                              finished_at=now, is_unauthorized=True)
    browser_login("remy")
    page.goto("/delivery/?unauthorized=1")
    assert page.locator("h1").inner_text() == "Deployments"
    assert page.get_by_text("Unauthorised").first.is_visible()
    page.get_by_role("link", name=artifact.version).first.click()
    page.wait_for_load_state("domcontentloaded")
    assert "AGPL-3.0-only" in page.content()
    assert page.get_by_role("heading", name="Licences").is_visible()
    page.goto(f"/services/{artifact.service.slug}/")
    assert page.get_by_role("heading", name="Environments").is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_requester_sees_the_pull_request_behind_a_change_and_where_it_shipped(page, browser_login, requester,
                                                                                make_change, ship_to_staging,
                                                                                service):
    from apps.audit.actor import Actor, acting_as
    from apps.delivery.models import PullRequest

    change = make_change(state="approved")
    merge = "c" * 40
    with acting_as(Actor.for_command("test")) as actor:
        services.pull_request_record(
            provider="github", external_id="github:1", service=service, change=change, action="closed", actor=actor,
            repository="acme/payments", number=42, title=f"Faster refunds ({change.number})",
            url="https://github.com/acme/payments/pull/42", author="alice-gh", state=PullRequest.State.MERGED,
            head_ref="refunds", head_sha="d" * 40, base_ref="main", merge_commit_sha=merge, change_ref=change.number,
            merged_at=timezone.now())
    artifact = ship_to_staging(sha=merge, version="4.2.0", authored_ago=timedelta(hours=2)).artifact
    browser_login("rita")
    page.goto(f"/changes/{change.number}/")
    table = page.locator("table", has=page.get_by_text("Pull requests naming this change"))
    assert table.get_by_role("link", name="acme/payments#42").get_attribute("href") == \
        "https://github.com/acme/payments/pull/42"
    assert table.get_by_text("Merged").is_visible()
    table.get_by_role("link", name="4.2.0").click()
    page.wait_for_load_state("domcontentloaded")
    assert artifact.digest in page.content()
