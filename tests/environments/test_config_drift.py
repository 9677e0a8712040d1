"""Observations compared with the approved baseline; drift findings opened, updated, cleared,
attributed to a deployment, notified, and resolved as reverted or accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.delivery.models import Deployment
from apps.environments.models import ConfigObservation, DriftFinding

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import observe, put_baseline, setting

pytestmark = pytest.mark.django_db

BASELINE = {
    "DB_URL": setting("jdbc:postgresql://db:5432/payments", must_match=True),
    "DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True, must_match=True),
    "POOL_SIZE": setting("20"),
    "FEATURE_X": setting("false", must_match=True),
}
AS_APPROVED = {"DB_URL": "jdbc:postgresql://db:5432/payments", "DB_PASSWORD": "vault://kv/payments/db#password",
               "POOL_SIZE": "20", "FEATURE_X": "false"}


@pytest.fixture
def baseline(rita_api, config_change, approve, clock):
    clock("2026-11-10 09:00")
    change = config_change()
    assert put_baseline(rita_api, change, BASELINE).status_code == 200
    return approve(change)


def at(minutes: int):
    return timezone.now() + timedelta(minutes=minutes)


def drift_of(response):
    assert response.status_code == 201, response.json()
    return {d["key"]: (d["kind"], d["expected"], d["observed"]) for d in response.json()["drift"]}


def test_what_runs_as_approved_has_no_drift(baseline, bot_api):
    response = observe(bot_api, AS_APPROVED, runtimes={"java": "17.0.9"})
    assert drift_of(response) == {}
    assert response.json()["baseline_version"] == 1
    assert not DriftFinding.objects.exists()
    assert AuditEvent.objects.filter(action="config.observation.recorded").count() == 1


def test_changed_missing_and_unexpected_keys_become_findings(baseline, bot_api, django_capture_on_commit_callbacks):
    observed = {**AS_APPROVED, "POOL_SIZE": "50", "DEBUG": "true"}
    del observed["FEATURE_X"]
    with django_capture_on_commit_callbacks(execute=True):
        response = observe(bot_api, observed)
    assert drift_of(response) == {"POOL_SIZE": ("changed", "20", "50"), "FEATURE_X": ("missing", "false", ""),
                                  "DEBUG": ("unexpected", "", "true")}
    findings = {f.key: f for f in DriftFinding.objects.all()}
    assert set(findings) == {"POOL_SIZE", "FEATURE_X", "DEBUG"}
    # Every difference is a finding; only must_match keys are gate-relevant.
    assert {k for k, f in findings.items() if f.must_match} == {"FEATURE_X"}
    assert all(f.status == "open" and f.first_seen == f.last_seen for f in findings.values())
    assert mail.outbox and {m.subject for m in mail.outbox} == {
        "[drift] Payments API in Staging: 3 configuration findings, 1 blocking"}  # one per team member
    assert "POOL_SIZE: changed; expected 20, observed 50" in mail.outbox[0].body
    assert all(f.notified_at for f in DriftFinding.objects.all())


def test_a_later_observation_updates_the_open_finding_instead_of_opening_another(baseline, bot_api):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "60"}, at=at(2))
    finding = DriftFinding.objects.get()
    assert finding.observed == "60" and finding.last_seen > finding.first_seen
    assert finding.history.count() == 2


def test_a_finding_right_after_a_deployment_names_it(baseline, bot_api, service, environments):
    deployed = Deployment.objects.create(service=service, environment=environments["staging"], version="1.2.3",
                                         status="succeeded", started_at=at(-10))
    Deployment.objects.create(service=service, environment=environments["staging"], version="1.2.2",
                              status="succeeded", started_at=at(-300))
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"})
    assert DriftFinding.objects.get().deployment == deployed
    explicit = Deployment.objects.create(service=service, environment=environments["staging"], version="1.2.4",
                                         status="succeeded", started_at=at(-500))
    observe(bot_api, {**AS_APPROVED, "FEATURE_X": "true"}, deployment=explicit.pk)
    assert DriftFinding.objects.get(key="FEATURE_X").deployment == explicit


def test_no_deployment_is_named_when_none_ran_shortly_before(baseline, bot_api, service, environments):
    Deployment.objects.create(service=service, environment=environments["staging"], version="1.2.2",
                              status="succeeded", started_at=at(-300))
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"})
    assert DriftFinding.objects.get().deployment is None


def test_a_deployment_of_another_environment_is_refused(baseline, bot_api, service, environments):
    other = Deployment.objects.create(service=service, environment=environments["prod"], version="1",
                                      status="succeeded")
    response = observe(bot_api, AS_APPROVED, deployment=other.pk)
    assert response.status_code == 422 and response.json()["error"]["code"] == "deployment_mismatch"
    assert not ConfigObservation.objects.exists()


def test_reverted_needs_a_later_observation_without_the_difference(baseline, bot_api, rita_api, approver,
                                                                   api_client_for):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    finding = DriftFinding.objects.get()
    platform = api_client_for(approver, ["changes:write", "delivery:read"])
    url = f"/api/v1/config/drift/{finding.pk}/resolve/"
    response = platform.post(url, {"resolution": "reverted"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "drift_still_observed"
    observe(bot_api, AS_APPROVED, at=at(2))
    finding.refresh_from_db()
    assert finding.status == "open" and finding.cleared_by_id  # drift stays open until a person resolves it
    response = platform.post(url, {"resolution": "reverted"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resolved" and body["resolution"] == "reverted" and body["resolved_by"] == "adam"
    assert platform.post(url, {"resolution": "reverted"}, format="json").json()["error"]["code"] == "finding_not_open"
    assert AuditEvent.objects.filter(action="config.drift.resolved", object_id=str(finding.pk)).count() == 1


def test_drift_that_comes_back_is_no_longer_cleared(baseline, bot_api):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    observe(bot_api, AS_APPROVED, at=at(2))
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(3))
    assert DriftFinding.objects.get().cleared_by is None


def test_accepted_needs_an_approved_change_whose_baseline_holds_the_observed_value(
        baseline, bot_api, rita_api, config_change, approve, api_client_for, approver):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    finding = DriftFinding.objects.get()
    platform = api_client_for(approver, ["changes:write", "delivery:read"])
    url = f"/api/v1/config/drift/{finding.pk}/resolve/"
    assert platform.post(url, {"resolution": "accepted"}, format="json").json()["error"]["fields"] == {
        "change": ["Required to accept."]}
    wrong = config_change(title="Pool to 40")
    put_baseline(rita_api, wrong, {**BASELINE, "POOL_SIZE": setting("40")})
    response = platform.post(url, {"resolution": "accepted", "change": wrong.number}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "change_not_approved"
    approve(wrong)
    response = platform.post(url, {"resolution": "accepted", "change": wrong.number}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "baseline_does_not_hold_observed"
    right = config_change(title="Pool to 50")
    put_baseline(rita_api, right, {**BASELINE, "POOL_SIZE": setting("50")})
    approve(right)
    response = platform.post(url, {"resolution": "accepted", "change": right.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["resolving_change"] == right.number
    finding.refresh_from_db()
    assert finding.resolution == "accepted" and finding.resolving_baseline.version == 3


def test_a_missing_key_is_accepted_by_a_baseline_without_it(baseline, bot_api, rita_api, config_change, approve,
                                                             api_client_for, approver):
    observed = dict(AS_APPROVED)
    del observed["POOL_SIZE"]
    observe(bot_api, observed)
    finding = DriftFinding.objects.get(kind="missing")
    change = config_change(title="Drop the pool setting")
    put_baseline(rita_api, change, {k: v for k, v in BASELINE.items() if k != "POOL_SIZE"})
    approve(change)
    platform = api_client_for(approver, ["changes:write", "delivery:read"])
    response = platform.post(f"/api/v1/config/drift/{finding.pk}/resolve/",
                             {"resolution": "accepted", "change": change.number}, format="json")
    assert response.status_code == 200, response.json()


def test_a_pipeline_cannot_resolve_drift(baseline, bot_api):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    observe(bot_api, AS_APPROVED, at=at(2))
    finding = DriftFinding.objects.get()
    response = bot_api.post(f"/api/v1/config/drift/{finding.pk}/resolve/", {"resolution": "reverted"}, format="json")
    assert response.status_code == 403
    assert DriftFinding.objects.get().status == "open"


def test_without_an_approved_baseline_nothing_is_compared(bot_api, service, environments):
    response = observe(bot_api, {"ANYTHING": "1"})
    assert response.status_code == 201 and response.json()["drift"] == [] and response.json()["baseline_version"] is None
    assert not DriftFinding.objects.exists()


def test_the_drift_list_filters_and_pages(baseline, bot_api, rita_api):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50", "DEBUG": "1"}, at=at(1))
    body = rita_api.get("/api/v1/config/drift/?service=payments-api&environment=staging&status=open").json()
    assert body["count"] == 2 and {r["key"] for r in body["results"]} == {"POOL_SIZE", "DEBUG"}
    row = next(r for r in body["results"] if r["key"] == "POOL_SIZE")
    assert {"id", "key", "kind", "expected", "observed", "first_seen", "last_seen", "deployment", "status"} <= set(row)
    assert rita_api.get("/api/v1/config/drift/?status=resolved").json()["count"] == 0
    assert rita_api.get("/api/v1/config/drift/?environment=prod").json()["count"] == 0


def test_the_drift_list_costs_a_fixed_number_of_queries(baseline, bot_api, rita_api, service, environments):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    def list_queries(expected_count):
        reset_queries()  # the request resets the log: start the capture from an empty one
        with CaptureQueriesContext(connection) as ctx:
            assert rita_api.get("/api/v1/config/drift/").json()["count"] == expected_count
        return len(ctx.captured_queries)

    observe(bot_api, {**AS_APPROVED, "A1": "1"}, at=at(1))
    small = list_queries(1)
    deployment = Deployment.objects.create(service=service, environment=environments["staging"], version="2",
                                           status="succeeded", started_at=at(1))
    observe(bot_api, {**AS_APPROVED, **{f"K{i}": str(i) for i in range(40)}}, at=at(2), deployment=deployment.pk)
    # Authentication (token, user, roles), the count and the page with its relations.
    assert 2 <= small == list_queries(41) <= 8


def test_invalid_observations_name_the_field(baseline, bot_api):
    response = observe(bot_api, {"POOL_SIZE": ["50"]})
    assert response.status_code == 400 and "settings.POOL_SIZE" in response.json()["error"]["fields"]
    response = observe(bot_api, AS_APPROVED, runtimes={"java": "seventeen point nine"})
    assert "runtimes.java" in response.json()["error"]["fields"]
    response = bot_api.post("/api/v1/config/observations/", {"service": "payments-api", "environment": "staging",
                                                             "source": "psychic", "observed_at": "now",
                                                             "settings": {}}, format="json")
    assert set(response.json()["error"]["fields"]) == {"source", "observed_at"}
    response = observe(bot_api, AS_APPROVED, at=at(60))
    assert response.status_code == 400 and "observed_at" in response.json()["error"]["fields"]
    assert not ConfigObservation.objects.exists()


def test_an_outsider_gets_nothing(baseline, bot_api, api_client_for, outsider):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"})
    finding = DriftFinding.objects.get()
    client = api_client_for(outsider)
    assert client.get("/api/v1/config/drift/").status_code == 403
    assert observe(client, AS_APPROVED).status_code == 403
    assert client.post(f"/api/v1/config/drift/{finding.pk}/resolve/", {"resolution": "reverted"},
                       format="json").status_code == 403
    assert ConfigObservation.objects.count() == 1


def test_a_member_of_another_team_may_not_report_or_resolve(baseline, bot_api, api_client_for, cab_member):
    observe(bot_api, {**AS_APPROVED, "POOL_SIZE": "50"}, at=at(1))
    observe(bot_api, AS_APPROVED, at=at(2))
    finding = DriftFinding.objects.get()
    client = api_client_for(cab_member, ["delivery:read", "changes:write"])
    response = client.post(f"/api/v1/config/drift/{finding.pk}/resolve/", {"resolution": "reverted"}, format="json")
    assert response.status_code == 403 and DriftFinding.objects.get().status == "open"


def test_an_observation_costs_the_same_queries_for_few_or_many_keys(baseline, service, environments,
                                                                    service_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.environments.config_services import observation_record

    def record(settings, minutes):
        with CaptureQueriesContext(connection) as ctx:
            observation_record(service=service, environment=environments["staging"], source="agent",
                               observed_at=at(minutes), settings=settings, actor=service_account)
        return len(ctx.captured_queries)

    record({**AS_APPROVED, "POOL_SIZE": "50", "K0": "x"}, 1)
    # Each later observation updates the open findings and opens new ones, whatever their number
    # (bulk writes: SQLite splits a very large bulk update by its parameter limit, PostgreSQL does not).
    few = record({**AS_APPROVED, "POOL_SIZE": "60", "K0": "y", "K1": "y"}, 2)
    size = 200 if connection.vendor == "postgresql" else 12
    many = record({**AS_APPROVED, "POOL_SIZE": "70", **{f"K{i}": "z" for i in range(size)}}, 3)
    assert few == many <= 20
