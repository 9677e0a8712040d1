"""GET /api/v1/annotations/: deployment and rollback markers in Grafana's annotation shape
(milliseconds), filtered by time, service and environment; bad parameters 400 naming them; a
fixed number of queries whatever the data; nothing for an outsider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.delivery.models import Deployment
from apps.validation.models import RollbackDecision

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


def ms(moment):
    return int(moment.timestamp() * 1000)


def _deploy(service, env, *, minutes_ago, kind="normal", version="2.4.0", **extra):
    started = NOW - timedelta(minutes=minutes_ago)
    return Deployment.objects.create(service=service, environment=env, version=version, status="succeeded",
                                     kind=kind, started_at=started, finished_at=started + timedelta(minutes=3),
                                     **extra)


@pytest.fixture
def reader(api_client_for, approver):
    return api_client_for(approver)


def _get(client, **params):
    return client.get("/api/v1/annotations/", params)


def test_deployments_and_rollbacks_in_grafanas_shape(reader, service, environments):
    deployment = _deploy(service, environments["prod"], minutes_ago=60)
    rollback = _deploy(service, environments["prod"], minutes_ago=30, kind="rollback", version="2.3.9",
                       rollback_of=deployment)
    RollbackDecision.objects.create(deployment=deployment, trigger="automatic", decided_at=NOW - timedelta(minutes=32),
                                    reasons=[{"code": "threshold_breached", "message": "error rate 7 % for 6 min"}])
    response = _get(reader, **{"from": ms(NOW - timedelta(hours=2)), "to": ms(NOW)})
    assert response.status_code == 200
    marks = response.json()
    assert [m["tags"][0] for m in marks] == ["deployment", "rollback", "rollback"]
    first = marks[0]
    assert set(first) == {"time", "timeEnd", "title", "text", "tags"}
    assert first["time"] == ms(deployment.started_at) and first["timeEnd"] == ms(deployment.finished_at)
    assert first["title"] == "Deployed payments-api 2.4.0 to prod"
    assert first["tags"] == ["deployment", "service:payments-api", "environment:prod", "status:succeeded"]
    decision = marks[1]
    assert decision["time"] == decision["timeEnd"] == ms(NOW - timedelta(minutes=32))
    assert decision["tags"][:2] == ["rollback", "automatic"] and "error rate 7 %" in decision["text"]
    assert marks[2]["title"] == "Rolled back payments-api 2.3.9 to prod" and marks[2]["time"] == ms(rollback.started_at)


def test_the_range_and_filters_apply(reader, service, environments, team):
    from tests.factories import ServiceFactory

    ledger = ServiceFactory(slug="ledger", owner_team=team)
    _deploy(service, environments["prod"], minutes_ago=30)
    _deploy(service, environments["staging"], minutes_ago=40)
    _deploy(ledger, environments["prod"], minutes_ago=50)
    _deploy(service, environments["prod"], minutes_ago=60 * 24 * 3)  # outside the range
    window = {"from": (NOW - timedelta(hours=2)).isoformat(), "to": NOW.isoformat()}
    assert len(_get(reader, **window).json()) == 3
    assert len(_get(reader, **window, service="payments-api").json()) == 2
    only = _get(reader, **window, service="payments-api", environment="prod").json()
    assert [m["tags"][1:3] for m in only] == [["service:payments-api", "environment:prod"]]
    # Without a range: the last 24 hours.
    assert len(_get(reader).json()) == 3


@pytest.mark.parametrize("params, fields", [
    ({"from": "yesterday"}, {"from"}),
    ({"to": "12:00"}, {"to"}),
    ({"from": "1763460000000", "to": "1763450000000"}, {"from"}),
    ({"from": "0", "to": "1763460000000"}, {"to"}),
    ({"service": "nope", "environment": "moon"}, {"service", "environment"}),
])
def test_bad_parameters_answer_400_naming_them(reader, environments, service, params, fields):
    response = _get(reader, **params)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == fields


def test_a_fixed_number_of_queries_whatever_the_data(reader, service, environments,
                                                     django_assert_max_num_queries):
    def seed(n):
        for i in range(n):
            deployment = _deploy(service, environments["prod"], minutes_ago=10 + i)
            RollbackDecision.objects.create(deployment=deployment, decided_at=NOW - timedelta(minutes=5 + i))

    seed(2)
    with django_assert_max_num_queries(8) as small:
        assert len(_get(reader, service="payments-api").json()) == 4
    seed(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(_get(reader, service="payments-api").json()) == 64


def test_an_outsider_gets_nothing(api_client_for, outsider, service, environments):
    _deploy(service, environments["prod"], minutes_ago=10)
    assert api_client_for(outsider).get("/api/v1/annotations/").status_code == 403
