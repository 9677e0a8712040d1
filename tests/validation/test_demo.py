"""The validation demo: deployments with metrics, a canary that passed, a marginal one, an
automatic rollback with its incident — made through the services (verdicts, decisions and the
incident are in the audit log), and a second run adds nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.delivery.models import Deployment
from apps.validation.models import CanaryAnalysis, MetricSampleBatch, RollbackDecision, Verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(roles_ready, clock):
    clock("2026-11-26 15:00")
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext

    context = DemoContext(seed=7, stdout=io.StringIO())
    accounts_demo.seed(context)
    catalog_demo.seed(context)
    prod = context.environments["prod"]
    # what the delivery demo leaves: each service's latest production deployment, hours ago
    for hours, slug in enumerate(("payments-api", "checkout", "auth-service", "web-store"), start=2):
        start = timezone.now() - timedelta(hours=hours)
        Deployment.objects.create(service=context.services[slug], environment=prod, status="succeeded",
                                  version=f"3.{hours}.0", started_at=start, finished_at=start + timedelta(minutes=4))
    return context


def test_the_demo_shows_a_passed_a_marginal_canary_and_an_automatic_rollback(ctx):
    from apps.validation import demo

    demo.seed(ctx)
    verdicts = {v.deployment.service.slug: v for v in Verdict.objects.select_related("deployment__service")}
    assert set(verdicts) == {"payments-api", "checkout", "auth-service", "web-store"}
    canaries = {c.deployment.service.slug: c.result for c in CanaryAnalysis.objects.select_related("deployment__service")}
    assert canaries == {"payments-api": "pass", "checkout": "marginal"}
    assert verdicts["payments-api"].status == "passed" and verdicts["web-store"].status == "passed"
    assert "canary_marginal" in verdicts["checkout"].reason_codes and verdicts["checkout"].status == "passed"
    failed = verdicts["auth-service"]
    assert failed.status == "failed" and failed.action == "rollback"
    assert {"threshold_breached", "smoke_failed"} <= set(failed.reason_codes)
    [decision] = RollbackDecision.objects.all()
    assert decision.deployment_id == failed.deployment_id and decision.trigger == "automatic"
    assert decision.incident.caused_by_deployment_id == failed.deployment_id
    assert AuditEvent.objects.filter(action="validation.rollback_decided").count() == 1
    assert AuditEvent.objects.filter(action="validation.verdict_changed").count() >= 4
    assert MetricSampleBatch.objects.count() > 0


def test_running_the_demo_twice_adds_nothing(ctx):
    from apps.validation import demo

    demo.seed(ctx)
    counts = (Verdict.objects.count(), MetricSampleBatch.objects.count(), CanaryAnalysis.objects.count(),
              RollbackDecision.objects.count(), AuditEvent.objects.count())
    demo.seed(ctx)
    assert (Verdict.objects.count(), MetricSampleBatch.objects.count(), CanaryAnalysis.objects.count(),
            RollbackDecision.objects.count(), AuditEvent.objects.count()) == counts
