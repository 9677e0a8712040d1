"""Incident fixtures: deployments made directly (the delivery app owns their API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.delivery.models import Deployment
from apps.incidents.models import Incident

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Personas are created per test; PBKDF2 would spend most of the run hashing "demo"."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_deployment(environments, service):
    def make(*, svc=None, env="prod", status="succeeded", finished_at=T0, kind="normal", **extra):
        return Deployment.objects.create(
            service=svc or service, environment=environments[env], status=status, kind=kind,
            started_at=(finished_at or T0) - timedelta(minutes=10), finished_at=finished_at,
            version=extra.pop("version", "1.0.0"), **extra,
        )

    return make


@pytest.fixture
def make_incident(service, requester):
    def make(*, svc=None, started_at=T0 + timedelta(hours=1), severity="sev3", **extra):
        return Incident.objects.create(
            service=svc or service, title=extra.pop("title", "Checkout errors"), severity=severity,
            started_at=started_at, created_by=extra.pop("created_by", requester), **extra,
        )

    return make


@pytest.fixture
def incident(service, requester):
    from django.utils import timezone

    from apps.incidents import services

    return services.incident_open(service=service, title="Card payments failing", severity="sev2",
                                  started_at=timezone.now() - timedelta(hours=2), actor=requester)
