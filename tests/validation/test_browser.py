"""In a real browser: an SRE opens a failed deployment and sees why — the verdict's reasons,
the breached chart, the rollback decision and the incident it opened — at desktop and phone
widths."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.delivery.models import Deployment
from apps.validation import services

SHOTS = Path("/tmp/shots")
POLICY = {"validation_minutes": 60, "auto_rollback": True, "smoke_required_within_minutes": None,
          "checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5, "for_minutes": 5},
                     {"metric": "p95_latency_ms", "comparator": ">", "threshold": 800, "for_minutes": 5}],
          "canary": {"metrics": [], "pass_score": 95, "marginal_score": 75}}


@pytest.fixture
def failed_deployment(service, environments, service_account, release_manager):
    start = timezone.now() - timedelta(minutes=30)
    deployment = Deployment.objects.create(service=service, environment=environments["prod"], version="2.4.0",
                                           status="succeeded", started_at=start,
                                           finished_at=start + timedelta(minutes=3))
    services.health_policy_set(service=service, environment=environments["prod"], data=POLICY, actor=release_manager)
    t0 = start.timestamp()
    latency = [[t0 + 20 * i, 230.0 + (i % 9) * 6] for i in range(80)]
    errors = [[t0 + 20 * i, 7.4 if 30 <= i < 60 else 0.7 + (i % 5) * 0.1] for i in range(80)]  # 10 min at 7.4 %
    services.metric_samples_record(deployment=deployment, metric="p95_latency_ms", cohort="current", samples=latency,
                                   actor=service_account)
    services.metric_samples_record(deployment=deployment, metric="error_rate_pct", cohort="current", samples=errors,
                                   actor=service_account)
    deployment.refresh_from_db()
    return deployment


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_sre_opens_a_failed_deployment_and_sees_why(page, browser_login, requester, failed_deployment):
    SHOTS.mkdir(parents=True, exist_ok=True)
    decision = failed_deployment.rollback_decision
    browser_login("rita")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/delivery/deployments/{failed_deployment.pk}/")
    verdict = page.locator("#verdict")
    assert verdict.locator("[data-status=failed]").is_visible()
    assert "threshold_breached" in verdict.inner_text() and "error_rate_pct" in verdict.inner_text()
    chart = page.get_by_role("img", name="error_rate_pct (%)")
    assert chart.is_visible()
    assert chart.locator("rect.breach").count() == 1 and chart.locator("line.threshold").count() == 1
    assert chart.locator("line.marker").count() == 1
    assert page.locator("figure[data-metric=error_rate_pct] figcaption .badge-bad").inner_text() == "breached"
    assert page.locator("figure[data-metric=p95_latency_ms] rect.breach").count() == 0
    link = page.locator("#rollback-incident")
    assert link.is_visible() and "Automatic rollback" in link.inner_text()
    page.screenshot(path=str(SHOTS / "valui-failed-deployment-1366.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows the phone
    assert page.get_by_role("img", name="error_rate_pct (%)").is_visible()
    page.screenshot(path=str(SHOTS / "valui-failed-deployment-390.png"), full_page=True)

    page.locator("#rollback-incident").click()
    page.wait_for_url(f"**/incidents/{decision.incident_id}/")
    assert "Automatic rollback" in page.locator("h1").inner_text()
