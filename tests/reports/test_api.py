from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/dora/"


@pytest.fixture
def reader(executive, api_client_for):
    return api_client_for(executive)


def test_it_answers_the_contract_for_a_month(reader, service, deploy, incident):
    d = deploy(service, "2026-10-05 12:00", commits=[("c1", "2026-10-05 10:00")])
    incident(service, "2026-10-05 13:00", "2026-10-05 14:00", caused_by=d)
    deploy(service, "2026-10-06 12:00", kind="hotfix")
    response = reader.get(URL, {"month": "2026-10"})
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == "2026-10"
    assert body["timezone"] == "UTC"
    assert body["scope"] == {"type": "organisation", "slug": None, "name": "Organisation"}
    assert body["deployment_frequency"]["count"] == 2
    assert set(body["deployment_frequency"]) >= {"count", "per_day", "median_deploy_days_per_week", "tier"}
    assert body["lead_time"] == {"median_seconds": 7200.0, "p90_seconds": 7200.0, "count": 1, "negative_excluded": 0,
                                 "tier": "elite"}
    assert body["change_failure_rate"] == {"failed": 1, "total": 2, "rate": 0.5, "tier": "low"}
    assert body["recovery_time"] == {"median_seconds": 3600.0, "count": 1, "unrestored": 0, "tier": "high"}
    assert body["rework_rate"] == {"rework": 1, "total": 2, "rate": 0.5}


def test_it_scopes_to_a_team_or_a_service(reader, service, other_team, deploy):
    from tests.factories import ServiceFactory

    deploy(service, "2026-10-05 12:00")
    deploy(ServiceFactory(slug="auth", owner_team=other_team), "2026-10-05 12:00")
    body = reader.get(URL, {"month": "2026-10", "team": "identity"}).json()
    assert body["scope"]["type"] == "team" and body["deployment_frequency"]["count"] == 1
    body = reader.get(URL, {"month": "2026-10", "service": "payments-api"}).json()
    assert body["scope"]["slug"] == "payments-api" and body["deployment_frequency"]["count"] == 1


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "october", "2026-10-01", ""])
def test_a_bad_month_is_a_400_naming_the_field(reader, month):
    response = reader.get(URL, {"month": month})
    assert response.status_code == 400
    assert "month" in response.json()["error"]["fields"]


def test_unknown_team_or_service_is_a_400_naming_each_field(reader, service):
    response = reader.get(URL, {"month": "2026-10", "team": "nope", "service": "nada"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"team", "service"}


def test_a_service_of_another_team_is_refused(reader, service, other_team):
    response = reader.get(URL, {"month": "2026-10", "team": "identity", "service": "payments-api"})
    assert response.status_code == 400
    assert "service" in response.json()["error"]["fields"]


def test_anonymous_gets_401(api_client):
    assert api_client.get(URL, {"month": "2026-10"}).status_code == 401


def test_outsider_gets_403(outsider, client):
    client.force_login(outsider)
    assert client.get(URL, {"month": "2026-10"}).status_code == 403


def test_a_requester_without_the_reports_scope_gets_403(requester, api_client_for):
    response = api_client_for(requester).get(URL, {"month": "2026-10"})
    assert response.status_code == 403


def test_a_token_without_the_scope_is_refused_even_for_an_executive(executive, api_client_for):
    response = api_client_for(executive, scopes=["catalog:read"]).get(URL, {"month": "2026-10"})
    assert response.status_code == 403


def test_an_auditor_session_may_read(auditor, client):
    client.force_login(auditor)
    assert client.get(URL, {"month": "2026-10"}).status_code == 200


def test_the_query_count_does_not_grow_with_the_data(reader, service, other_team, deploy, incident,
                                                     django_assert_max_num_queries):
    from tests.factories import ServiceFactory

    def load(n):
        for i, svc in enumerate(ServiceFactory(slug=f"svc-{n}-{k}", owner_team=other_team) for k in range(4)):
            for day in range(1, 8):
                d = deploy(svc, f"2026-10-{day:02d} 1{i}:00", commits=[(f"s{n}{i}{day}", f"2026-10-{day:02d} 0{i}:00")])
            incident(svc, "2026-10-09 10:00", "2026-10-09 11:00", caused_by=d)

    load(1)
    # The first request computes October and stores its snapshots (a fixed number of queries
    # too: one per table, whatever the number of rows) ... 23 since the replica router's merge:
    # the snapshot watermark is read twice on a cold compute (a leftover, noted in #18's note).
    with django_assert_max_num_queries(23):
        assert reader.get(URL, {"month": "2026-10"}).status_code == 200
    # ... the next ones read them.
    with django_assert_max_num_queries(6) as warm:
        assert reader.get(URL, {"month": "2026-10"}).status_code == 200
    assert not any("delivery_deploymentcommit" in q["sql"] for q in warm.captured_queries)
    load(2)  # late data for October: its snapshots are dropped and recomputed once
    with django_assert_max_num_queries(40):
        body = reader.get(URL, {"month": "2026-10"}).json()
    assert body["deployment_frequency"]["count"] == 56
    with django_assert_max_num_queries(6):
        again = reader.get(URL, {"month": "2026-10"}).json()
    assert {**again, "data_as_of": None} == {**body, "data_as_of": None}
    with django_assert_max_num_queries(24):
        assert reader.get(URL, {"month": "2026-10", "team": "identity"}).status_code == 200
