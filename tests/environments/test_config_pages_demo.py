"""The demo organisation's configuration: baselines of several services in staging and prod,
approved through the real change workflow; one open and one resolved drift finding; a runtime
mismatch between staging and prod on payments-api; seeding twice adds nothing."""

from __future__ import annotations

import io

import pytest

from apps.environments.models import ConfigBaseline, ConfigObservation, DriftFinding

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(roles_ready, clock):
    from apps.access_reviews import demo as access_demo
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext
    from apps.environments import demo as environments_demo

    clock("2026-11-26 09:00")
    ctx = DemoContext(seed=7, stdout=io.StringIO())
    for module in (accounts_demo, catalog_demo, access_demo, environments_demo):
        module.seed(ctx)
    return ctx, environments_demo


def _rows():
    return (ConfigBaseline.objects.count(), ConfigObservation.objects.count(), DriftFinding.objects.count())


def test_the_demo_has_baselines_drift_and_a_runtime_mismatch(seeded):
    ctx, _ = seeded
    approved = ConfigBaseline.objects.filter(status="approved")
    pairs = set(approved.values_list("service__slug", "environment__slug"))
    assert len(pairs) == 8 and {e for _, e in pairs} == {"staging", "prod"}
    assert all(b.approvers and b.approved_by_id for b in approved)
    assert ConfigBaseline.objects.filter(service__slug="api-gateway", environment__slug="staging").count() == 2
    [open_finding] = DriftFinding.objects.filter(status="open")
    assert (open_finding.service.slug, open_finding.environment.slug, open_finding.key, open_finding.must_match) == (
        "checkout", "prod", "FEATURE_NEW_CHECKOUT", True)
    [resolved] = DriftFinding.objects.filter(status="resolved")
    assert (resolved.key, resolved.resolution, resolved.resolved_by.username) == ("RATE_LIMIT_RPS", "reverted",
                                                                                  "yusuf")
    from apps.environments.models import ConfigState

    runtimes = {s.environment.slug: s.runtimes["java"] for s in ConfigState.objects.filter(service__slug="payments-api")}
    assert runtimes == {"staging": "21.0.2", "prod": "17.0.9"}


def test_seeding_twice_adds_nothing(seeded):
    ctx, environments_demo = seeded
    before = _rows()
    environments_demo.seed(ctx)
    assert _rows() == before


def test_the_demo_pages_render_for_the_platform_engineer(client, seeded):
    from apps.accounts.models import User

    client.force_login(User.objects.get(username="yusuf"))
    assert "FEATURE_NEW_CHECKOUT" in client.get("/config/drift/").content.decode()
    html = client.get("/config/baselines/api-gateway/staging/").content.decode()
    assert "Version 1 and version 2 side by side" in html and "RETRY_BUDGET" in html
    assert 'data-testid="runtime-mismatch"' in client.get("/services/payments-api/").content.decode()
