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
