"""Validation fixtures (valcore): a payments-api deployment that finished 10 minutes before the
pinned "now", its pipeline's API client, and a helper that posts samples every 10 s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

NOW = "2026-11-18 10:00"


@pytest.fixture
def pinned(clock):
    return clock(NOW)


@pytest.fixture
def make_deployment(pinned, service, environments):
    from apps.delivery.models import Deployment

    def make(env="prod", *, started_minutes_ago=15, finished_minutes_ago=10, change=None, svc=None, **extra):
        now = timezone.now()
        return Deployment.objects.create(
            service=svc or service, environment=environments[env], version="2.4.0", change=change,
            status="succeeded" if finished_minutes_ago is not None else "in_progress",
            started_at=now - timedelta(minutes=started_minutes_ago),
            finished_at=None if finished_minutes_ago is None else now - timedelta(minutes=finished_minutes_ago),
            **extra)

    return make


@pytest.fixture
def deployment(make_deployment):
    return make_deployment()


@pytest.fixture
def pipeline(api_client_for, service_account):
    """The payments team's CI (a service account with every scope its kind may hold)."""
    return api_client_for(service_account)


def every_10s(start_ts: float, minutes: float, value: float) -> list[list[float]]:
    """Samples every 10 s for `minutes`, the first at start_ts and the last at start_ts + minutes."""
    n = int(minutes * 6) + 1
    return [[start_ts + 10 * i, value] for i in range(n)]


@pytest.fixture
def post_samples(pipeline):
    def post(deployment, samples, *, metric="error_rate_pct", cohort="current", client=None):
        return (client or pipeline).post(f"/api/v1/deployments/{deployment.pk}/metrics/",
                                         {"metric": metric, "cohort": cohort, "samples": samples}, format="json")

    return post


@pytest.fixture
def make_change(db, requester, implementer, service, environments):
    """make_change(**fields) -> a production change of payments-api (rita requests, ivan implements)."""
    import importlib

    from django.apps import apps as django_apps

    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest

    if not ChangeType.objects.filter(slug="normal").exists():
        importlib.import_module("apps.change_types.migrations.0003_seed_change_types").seed_change_types(django_apps)
    change_type = ChangeType.objects.get(slug="normal")

    def make(**fields):
        change = ChangeRequest.objects.create(
            title="Checkout v2.4", change_type=change_type, service=service, environment=environments["prod"],
            requester=requester, implementer=implementer, state="implementing", **fields)
        change.number = ChangeRequest.format_number(change.pk)
        change.save(update_fields=["number"])
        return change

    return make
