"""The DORA dashboard counts automatic rollbacks (a figure beside the four keys; the keys'
definitions are unchanged)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.delivery.models import Deployment
from apps.validation.models import RollbackDecision

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


def _rolled_back(service, env, when, trigger="automatic"):
    dep = Deployment.objects.create(service=service, environment=env, status="rolled_back", version="1",
                                    started_at=when, finished_at=when)
    return RollbackDecision.objects.create(deployment=dep, trigger=trigger, decided_at=when)


@pytest.fixture
def rollbacks(service, environments, other_team):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    prod = environments["prod"]
    _rolled_back(service, prod, datetime(2026, 10, 3, 12, tzinfo=UTC))
    _rolled_back(other, prod, datetime(2026, 10, 20, 12, tzinfo=UTC))
    _rolled_back(service, prod, datetime(2026, 9, 20, 12, tzinfo=UTC))  # the month before
    _rolled_back(service, prod, datetime(2026, 10, 5, 12, tzinfo=UTC), trigger="manual")  # a person decided
    _rolled_back(service, environments["staging"], datetime(2026, 10, 6, 12, tzinfo=UTC))  # not production
    return other


def _figure(html: str) -> tuple[int, str]:
    match = re.search(r'id="auto-rollbacks".*?data-count="(\d+)".*?\((\d+) last month\)', html, re.S)
    assert match, "no automatic rollbacks figure"
    return int(match.group(1)), match.group(2)


def test_the_dashboard_counts_the_months_automatic_production_rollbacks(client, executive, rollbacks):
    client.force_login(executive)
    html = client.get("/reports/?month=2026-10").content.decode()
    assert _figure(html) == (2, "1")
    assert "by the month of the decision" in html  # the definition is stated


def test_a_team_sees_its_own_services_rollbacks(client, executive, rollbacks, team):
    client.force_login(executive)
    html = client.get(f"/reports/?month=2026-10&team={team.slug}").content.decode()
    assert _figure(html) == (1, "1")


def test_people_without_a_reporting_role_see_no_figure(client, outsider, rollbacks):
    client.force_login(outsider)
    response = client.get("/reports/?month=2026-10")
    assert response.status_code == 403 and b"auto-rollbacks" not in response.content


def test_the_figure_costs_the_same_queries_whatever_the_number_of_rollbacks(client, executive, service, environments):
    client.force_login(executive)
    client.get("/reports/?month=2026-10")  # warm the report's caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/reports/?month=2026-10").status_code == 200
        return len(ctx.captured_queries)

    _rolled_back(service, environments["prod"], datetime(2026, 10, 3, 12, tzinfo=UTC))
    few = queries()
    for day in range(4, 24):
        _rolled_back(service, environments["prod"], datetime(2026, 10, day, 12, tzinfo=UTC))
    assert queries() == few
