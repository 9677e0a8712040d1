"""End to end in Chromium: a platform engineer (yusuf, Infrastructure) resolves a drift finding on
api-gateway by the approved change whose baseline carries the observed value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.environments.models import DriftFinding

from .config_fixtures import (
    config_type,  # noqa: F401  (a fixture)
    setting,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASELINE = {"RATE_LIMIT_RPS": setting("1000", must_match=True), "POOL_SIZE": setting("20"),
            "UPSTREAM_TOKEN": setting("vault://kv/staging/gateway#token", secret=True)}
OBSERVED = {"RATE_LIMIT_RPS": "5000", "POOL_SIZE": "20", "UPSTREAM_TOKEN": "vault://kv/staging/gateway#token"}


@pytest.fixture
def gateway_drift(roles_ready, config_type, environments, service_account):  # noqa: F811
    """api-gateway in staging: baseline v1 (rate limit 1000) approved; the agent saw 5000 (an open
    finding); yusuf's change proposing 5000 as v2 was approved by the team lead."""
    from apps.changes.services import approval_record, change_create, change_submit
    from apps.environments.config_services import baseline_propose, observation_record
    from tests.factories import ServiceFactory, TeamFactory, UserFactory

    team = TeamFactory(slug="infrastructure", name="Infrastructure")
    yusuf = UserFactory(username="yusuf", first_name="Yusuf", roles=("requester",), team=team)
    lead = UserFactory(username="olu", first_name="Olu", roles=("approver",), team=team)
    gateway = ServiceFactory(slug="api-gateway", name="API Gateway", owner_team=team)
    service_account.owner_team = team
    service_account.save()
    staging = environments["staging"]

    def approved(title, settings):
        start = timezone.now() + timedelta(days=1)
        change = change_create(actor=yusuf, title=title, change_type=config_type, service=gateway,
                               environment=staging, planned_start=start, planned_end=start + timedelta(hours=1),
                               rollback_plan="Restore the previous baseline", rollback_criteria={"error_rate_pct": 5})
        baseline_propose(service=gateway, environment=staging, change=change, settings=settings, actor=yusuf)
        change = change_submit(change=change, actor=yusuf)
        return approval_record(change=change, approver=lead, decision="approve").change

    approved("Gateway baseline", BASELINE)
    observation_record(service=gateway, environment=staging, source="agent", observed_at=timezone.now(),
                       settings=OBSERVED, runtimes={"java": "17.0.9"}, actor=service_account)
    accepting = approved("Raise the gateway rate limit for the sale", {**BASELINE, "RATE_LIMIT_RPS": setting(
        "5000", must_match=True)})
    return DriftFinding.objects.get(key="RATE_LIMIT_RPS"), accepting


def test_a_platform_engineer_accepts_drift_with_an_approved_change(page, browser_login, gateway_drift):
    finding, accepting = gateway_drift
    browser_login("yusuf")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    page.wait_for_url("**/config/drift/")
    row = page.locator(f'tr[data-finding="{finding.pk}"]')
    assert "RATE_LIMIT_RPS" in row.inner_text() and "blocks gate" in row.inner_text()
    row.get_by_role("link", name=finding.reference).click()
    page.wait_for_url(f"**/config/drift/{finding.pk}/")
    assert page.get_by_test_id("expected").inner_text().startswith("1000")
    assert page.get_by_test_id("observed").inner_text() == "5000"
    page.get_by_label("Approved change", exact=True).select_option(accepting.number)
    assert "holds the observed value" in page.get_by_label("Approved change", exact=True).locator("option:checked").inner_text()
    page.get_by_role("button", name="Accept the drift").click()
    page.get_by_text(f"{finding.reference} (RATE_LIMIT_RPS) accepted with {accepting.number}").wait_for()
    assert page.get_by_test_id("resolution").inner_text().startswith("Accepted by Yusuf")
    finding.refresh_from_db()
    assert (finding.status, finding.resolution, finding.resolving_change_id) == ("resolved", "accepted", accepting.pk)

    # Nothing open any more; the resolved finding is listed with its change.
    page.goto("/config/drift/")
    assert page.get_by_test_id("drift-open").inner_text() == "0"
    page.goto("/config/drift/?status=resolved")
    assert accepting.number in page.locator(f'tr[data-finding="{finding.pk}"]').inner_text()


def test_the_configuration_pages_fit_a_phone(page, browser_login, gateway_drift):
    finding, _ = gateway_drift
    browser_login("yusuf")
    page.set_viewport_size({"width": 390, "height": 844})
    for url in ("/config/drift/", f"/config/drift/{finding.pk}/", "/config/baselines/api-gateway/staging/",
                "/config/baselines/"):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)
