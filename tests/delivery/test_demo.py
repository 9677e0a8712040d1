"""The delivery demo's year of deployments and gate decisions is in the audit log, each event
naming the pipeline that acted and when it happened; the chain verifies."""

from __future__ import annotations

import io

import pytest

from apps.audit.models import AuditEvent
from apps.audit.verification import verify_chain
from apps.delivery.models import Deployment, GateDecision

pytestmark = pytest.mark.django_db


def test_demo_deployments_and_gate_decisions_are_audited(roles_ready):
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext
    from apps.delivery import demo as delivery_demo

    ctx = DemoContext(seed=7, stdout=io.StringIO())
    for module in (accounts_demo, catalog_demo, delivery_demo):
        module.seed(ctx)
    deployments = AuditEvent.objects.filter(action="delivery.deployment_recorded")
    assert deployments.count() == Deployment.objects.count() > 100
    gates = AuditEvent.objects.filter(action__startswith="delivery.gate_")
    assert gates.count() == GateDecision.objects.count() > 0
    sample = Deployment.objects.select_related("created_by").order_by("pk").first()
    event = deployments.get(object_id=str(sample.pk))
    assert event.object_type == "delivery.deployment" and event.actor_label == sample.created_by.username
    assert event.actor_type == "service_account" and event.details["imported"] is True
    assert event.details["status"] == sample.status
    assert verify_chain().ok
    events = AuditEvent.objects.count()
    delivery_demo.seed(ctx)  # a second run adds nothing
    assert AuditEvent.objects.count() == events
