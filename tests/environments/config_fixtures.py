"""Fixtures of the configuration tests (imported by tests/environments/test_config_*.py): a
reviewed change type, changes that carry a baseline, real approvals, and API helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

SECRET = "Sup3r-S3cret-Pa55w0rd-9f8e7d"  # the clear secret every leak test hunts for


@pytest.fixture
def config_type(db):
    """A change type with one approval stage (the `approver` group): peer review, as today."""
    from apps.change_types.models import ApprovalStage, ChangeType

    change_type = ChangeType.objects.create(slug="config", name="Configuration", requires_peer_review=True)
    ApprovalStage.objects.create(change_type=change_type, order=1, name="Peer review", approver_kind="group",
                                 approver_group="approver", rule="any", quorum=1, sla_hours=24, mandatory=True,
                                 applies_when="always")
    return change_type


@pytest.fixture
def config_change(config_type, requester, service, environments):
    """config_change(env="staging", **fields): a draft change to payments-api, by rita."""
    from apps.changes.services import change_create

    def make(env="staging", svc=None, **fields):
        start = timezone.now() + timedelta(days=1)
        fields.setdefault("rollback_plan", "Restore the previous baseline")
        fields.setdefault("rollback_criteria", {"error_rate_pct": 5})
        return change_create(actor=requester, title=fields.pop("title", "Tune the pool"), change_type=config_type,
                             service=svc or service, environment=environments[env], planned_start=start,
                             planned_end=start + timedelta(hours=1), **fields)

    return make


@pytest.fixture
def approve(requester, approver):
    """approve(change): submit it (if a draft) and approve it as adam, through the services."""
    from apps.catalog.privileges import APPROVER, PERMISSION_FOR
    from apps.changes.services import approval_record, change_submit

    def run(change, by=None):
        if change.state == "draft":
            change = change_submit(change=change, actor=requester)
        person = by or approver
        if change.environment.is_production:
            from guardian.shortcuts import assign_perm

            assign_perm(PERMISSION_FOR[APPROVER], person, change.service)
        return approval_record(change=change, approver=person, decision="approve").change

    return run


@pytest.fixture
def rita_api(api_client_for, requester):
    return api_client_for(requester, ["changes:read", "changes:write", "delivery:read"])


@pytest.fixture
def bot_api(api_client_for, service_account):
    return api_client_for(service_account, ["delivery:read", "delivery:write", "changes:write"])


def put_baseline(client, change, settings, service="payments-api", env=None):
    env = env or change.environment.slug
    return client.put(f"/api/v1/config/baselines/{service}/{env}/", {"change": change.number, "settings": settings},
                      format="json")


def observe(client, settings, *, env="staging", service="payments-api", at=None, runtimes=None, deployment=None,
            headers=None):
    body = {"service": service, "environment": env, "source": "agent",
            "observed_at": (at or timezone.now()).isoformat(), "settings": settings, "runtimes": runtimes or {}}
    if deployment is not None:
        body["deployment"] = deployment
    return client.post("/api/v1/config/observations/", body, format="json", **(headers or {}))


def setting(value, secret=False, must_match=False, **extra):
    return {"value": value, "secret": secret, "must_match": must_match, **extra}
