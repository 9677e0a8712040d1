"""Builders for DORA fixtures: production deployments with commits, incidents, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def at(text: str) -> datetime:
    """'2026-10-05 10:00' (UTC) -> aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def today() -> str:
    """The day every reports test runs on. The fixtures hold October 2026, and which months are
    closed, recent or open (snapshots) and which month a page shows by default ("last month")
    depend on the day: by default October is last month. Override or parametrize `today`."""
    return "2026-11-16 09:00"


@pytest.fixture(autouse=True)
def _report_settings(settings, monkeypatch, clock, today):
    # Pinned before any row is written, so every row is dated on that day.
    clock(today)
    settings.REPORT_TIMEZONE = "UTC"
    settings.REPORT_BENCHMARK_YEAR = 2023
    # Tests write and read within milliseconds, in committed order: a snapshot computed after a
    # row was written has seen it (production allows a minute for transactions to commit).
    from apps.reports import snapshots

    monkeypatch.setattr(snapshots, "MARGIN", timedelta(0))
    # The open month's figures and the charts are cached per process (keyed by the data and its
    # version): one test's entries must not answer the next test's database.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def prod(environments):
    return environments["prod"]


@pytest.fixture
def deploy(prod):
    """deploy(service, finished='2026-10-05 10:00', status='succeeded', kind='normal',
    commits=[('sha', '2026-10-05 08:00')], env=None, change=None) -> Deployment"""
    from apps.delivery.models import Deployment, DeploymentCommit

    def make(service, finished, status="succeeded", kind="normal", commits=(), env=None, change=None, started=None,
             unauthorized=False):
        finished_at = at(finished) if finished else None
        started_at = at(started) if started else (finished_at or at("2026-01-01 00:00"))
        dep = Deployment.objects.create(service=service, environment=env or prod, status=status, kind=kind,
                                        started_at=started_at, finished_at=finished_at, change=change,
                                        is_unauthorized=unauthorized)
        DeploymentCommit.objects.bulk_create(
            [DeploymentCommit(deployment=dep, sha=sha, authored_at=at(when)) for sha, when in commits])
        return dep

    return make


@pytest.fixture
def incident():
    from apps.incidents.models import Incident

    def make(service, started, resolved=None, caused_by=None, **extra):
        return Incident.objects.create(service=service, title="Outage", severity="sev2", started_at=at(started),
                                       resolved_at=at(resolved) if resolved else None, caused_by_deployment=caused_by,
                                       **extra)

    return make


@pytest.fixture
def change_types(db):
    from apps.change_types.models import ChangeType

    types = {}
    for slug, emergency in (("normal", False), ("emergency", True)):
        types[slug], _ = ChangeType.objects.update_or_create(
            slug=slug, defaults={"name": slug.title(), "is_emergency": emergency})
    return types


@pytest.fixture
def change(change_types, requester, prod):
    from apps.changes.models import ChangeRequest

    numbers = iter(range(1, 10_000))

    def make(service, type_slug="normal", state="completed", **extra):
        return ChangeRequest.objects.create(number=f"CHG-T{next(numbers):05d}", title="Change", change_type=change_types[type_slug], service=service,
                                            environment=prod, requester=requester, state=state, **extra)

    return make


@pytest.fixture
def dora_for():
    """dora_for('2026-10', team=None, service=None) -> the API dict for that month and scope."""
    from apps.reports.metrics import compute_report
    from apps.reports.periods import Month
    from apps.reports.scopes import resolve_scope

    def run(month, team=None, service=None, **kwargs):
        report = compute_report(Month.parse(month), resolve_scope(team=team, service=service), **kwargs)
        return report.summary()

    return run


@pytest.fixture
def october(service, other_team, deploy, incident, change):
    """A small October 2026 for two teams: successes, a failure restored by the next success,
    an incident-linked success, a hotfix, an emergency change, a negative lead time."""
    from tests.factories import ServiceFactory

    auth = ServiceFactory(slug="auth", name="Auth", owner_team=other_team)
    deploy(service, "2026-09-20 10:00", commits=[("p0", "2026-09-19 10:00")])
    d1 = deploy(service, "2026-10-05 12:00", commits=[("p1", "2026-10-05 10:00"), ("p2", "2026-10-04 12:00")])
    incident(service, "2026-10-05 13:00", "2026-10-05 15:00", caused_by=d1)
    deploy(service, "2026-10-06 09:00", status="failed", commits=[("p3", "2026-10-06 08:00")])
    deploy(service, "2026-10-06 10:00", kind="hotfix", commits=[("p3", "2026-10-06 08:00")])
    deploy(service, "2026-10-14 10:00", change=change(service, "emergency"), commits=[("p4", "2026-10-14 11:00")])
    deploy(auth, "2026-10-07 10:00", commits=[("a1", "2026-10-01 10:00")])
    deploy(auth, "2026-10-21 10:00", status="rolled_back")
    deploy(auth, "2026-10-22 10:00")
    incident(auth, "2026-10-23 10:00", None)  # inferred to the 22 Oct success, unresolved
    return {"payments": service, "auth": auth}
