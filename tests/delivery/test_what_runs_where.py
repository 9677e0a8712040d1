"""What runs where on the service page: per environment the last deployment to succeed, by finish
time (a rollback makes an older version current), since when, and what is ready to promote —
never a version the next environment already runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery import selectors
from apps.delivery.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-10-20 12:00")


@pytest.fixture
def deploy(service, environments):
    def make(env, version, *, finished_days_ago, status="succeeded", kind="normal"):
        finished = timezone.now() - timedelta(days=finished_days_ago)
        return Deployment.objects.create(service=service, environment=environments[env], version=version,
                                         status=status, kind=kind, started_at=finished - timedelta(minutes=10),
                                         finished_at=finished)
    return make


def _column(columns, slug):
    return next(c for c in columns if c["environment"].slug == slug)


def _status(service, environments):
    return selectors.environment_status(service, sorted(environments.values(), key=lambda e: e.order))


def test_a_rollback_recorded_late_but_finished_earlier_is_not_what_runs(service, environments, deploy):
    deploy("staging", "2.0.0", finished_days_ago=4)
    deploy("prod", "2.0.0", finished_days_ago=1)
    # Reported after the fact (a higher id) but finished before 2.0.0 went out again.
    deploy("prod", "1.0.0", finished_days_ago=2, kind="rollback")
    prod = _column(_status(service, environments), "prod")
    assert prod["running"].version == "2.0.0"
    # Staging's 2.0.0 already runs in production: nothing to promote.
    assert prod["pending_promotion"] is None


def test_a_rollback_that_is_the_latest_success_is_what_runs_since_it_finished(client, requester, service,
                                                                             environments, deploy):
    deploy("staging", "2.0.0", finished_days_ago=5)
    deploy("prod", "1.0.0", finished_days_ago=6)
    deploy("prod", "2.0.0", finished_days_ago=3)
    rollback = deploy("prod", "1.0.0", finished_days_ago=1, kind="rollback")
    deploy("prod", "2.0.1", finished_days_ago=0, status="failed")
    prod = _column(_status(service, environments), "prod")
    assert prod["running"].pk == rollback.pk
    assert prod["latest"].version == "2.0.1"
    assert prod["pending_promotion"] == "2.0.0"

    client.force_login(requester)
    page = client.get(f"/services/{service.slug}/").content.decode()
    prod_panel = page[page.index('aria-label="Production"'):]
    assert re.search(r'data-testid="live-version">1\.0\.0<', prod_panel)
    assert "since 19 Oct 2026, 12:00" in prod_panel  # the rollback's finish, in words


def test_ready_to_promote_never_offers_what_the_target_already_runs(service, environments, deploy):
    deploy("dev", "3.0.0", finished_days_ago=2)
    deploy("staging", "3.0.0", finished_days_ago=1)
    deploy("staging", "2.0.0", finished_days_ago=3)
    deploy("prod", "2.0.0", finished_days_ago=2)
    columns = _status(service, environments)
    assert _column(columns, "staging")["pending_promotion"] is None
    assert _column(columns, "prod")["pending_promotion"] == "3.0.0"


def test_what_runs_where_costs_two_queries_whatever_the_history(service, environments, deploy,
                                                               django_assert_num_queries):
    for days in range(6):
        for env in ("dev", "staging", "prod"):
            deploy(env, f"1.{days}.0", finished_days_ago=days)
            deploy(env, f"0.{days}.0", finished_days_ago=days + 10, kind="rollback")
    with django_assert_num_queries(2):
        columns = _status(service, environments)
    assert [c["running"].version for c in columns] == ["1.0.0", "1.0.0", "1.0.0"]
