"""GET|PUT /api/v1/services/{service}/health-policy/{env}/: the contract's shape, every field
validated by name, production edits governed like the gate's environment policies (release
managers, never a pipeline), history and audit."""

from __future__ import annotations

import copy

import pytest

from apps.audit.models import AuditEvent
from apps.validation.models import HealthPolicy
from apps.validation.selectors import effective_policy

pytestmark = pytest.mark.django_db

POLICY = {"validation_minutes": 45,
          "checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 2.5, "for_minutes": 3},
                     {"metric": "throughput_rps", "comparator": "<", "threshold": 10, "for_minutes": 5}],
          "canary": {"metrics": [{"metric": "p95_latency_ms", "direction": "increase_is_bad", "tolerance_pct": 10}],
                     "pass_score": 95, "marginal_score": 75},
          "smoke_required_within_minutes": 15, "auto_rollback": True}


def _url(env="staging", service="payments-api"):
    return f"/api/v1/services/{service}/health-policy/{env}/"


def test_without_a_policy_the_default_is_answered(service, environments, api_client_for, requester):
    body = api_client_for(requester).get(_url("prod")).json()
    assert body == {"service": "payments-api", "environment": "prod", "is_default": True, "validation_minutes": 60,
                    "checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}],
                    "canary": {"metrics": [], "pass_score": 95.0, "marginal_score": 75.0},
                    "smoke_required_within_minutes": None, "auto_rollback": False}


def test_the_team_sets_a_staging_policy(service, environments, api_client_for, requester):
    client = api_client_for(requester)
    response = client.put(_url(), POLICY, format="json")
    assert response.status_code == 200, response.content
    body = client.get(_url()).json()
    assert {k: body[k] for k in POLICY} == {**POLICY, "checks": [
        {**c, "threshold": float(c["threshold"]), "for_minutes": float(c["for_minutes"])} for c in POLICY["checks"]],
        "canary": {**POLICY["canary"], "metrics": [{**POLICY["canary"]["metrics"][0], "tolerance_pct": 10.0}],
                   "pass_score": 95.0, "marginal_score": 75.0}}
    assert body["is_default"] is False
    policy = HealthPolicy.objects.get()
    assert policy.updated_by == requester and policy.history.count() == 1
    event = AuditEvent.objects.get(action="validation.health_policy_set")
    assert event.details["after"]["validation_minutes"] == 45 and event.details["before"] is None


def test_a_second_put_replaces_and_keeps_history(service, environments, api_client_for, requester):
    client = api_client_for(requester)
    client.put(_url(), POLICY, format="json")
    client.put(_url(), {**POLICY, "auto_rollback": False}, format="json")
    policy = HealthPolicy.objects.get()
    assert policy.auto_rollback is False and policy.history.count() == 2
    assert AuditEvent.objects.filter(action="validation.health_policy_set").order_by("pk").last().details["before"]["auto_rollback"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda p: p.pop("validation_minutes"), "validation_minutes"),
    (lambda p: p.update(validation_minutes=0), "validation_minutes"),
    (lambda p: p.update(validation_minutes=1.5), "validation_minutes"),
    (lambda p: p.update(validation_minutes="60"), "validation_minutes"),
    (lambda p: p.update(checks="error_rate > 5"), "checks"),
    (lambda p: p["checks"][0].update(metric="Error Rate"), "checks[0].metric"),
    (lambda p: p["checks"][0].update(comparator=">="), "checks[0].comparator"),
    (lambda p: p["checks"][1].update(threshold="ten"), "checks[1].threshold"),
    (lambda p: p["checks"][0].update(for_minutes=-1), "checks[0].for_minutes"),
    (lambda p: p["checks"][0].update(colour="red"), "checks[0]"),
    (lambda p: p.update(canary=[]), "canary"),
    (lambda p: p["canary"].pop("pass_score"), "canary.pass_score"),
    (lambda p: p["canary"]["metrics"][0].update(direction="up"), "canary.metrics[0].direction"),
    (lambda p: p["canary"]["metrics"][0].update(tolerance_pct=None), "canary.metrics[0].tolerance_pct"),
    (lambda p: p["canary"].update(pass_score=101), "canary.pass_score"),
    (lambda p: p["canary"].update(marginal_score=96), "canary.marginal_score"),
    (lambda p: p.update(smoke_required_within_minutes=0), "smoke_required_within_minutes"),
    (lambda p: p.update(auto_rollback="yes"), "auto_rollback"),
    (lambda p: p.update(colour="red"), "colour"),
])
def test_every_field_is_validated_by_name(service, environments, api_client_for, requester, mutate, field):
    body = copy.deepcopy(POLICY)
    mutate(body)
    response = api_client_for(requester).put(_url(), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not HealthPolicy.objects.exists()


def test_a_production_policy_is_edited_by_a_release_manager_only(service, environments, api_client_for, requester,
                                                                 service_account, release_manager):
    for person in (requester, service_account):
        response = api_client_for(person).put(_url("prod"), POLICY, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "production_policy_governed"
    assert not HealthPolicy.objects.exists()
    assert api_client_for(release_manager).put(_url("prod"), POLICY, format="json").status_code == 200
    event = AuditEvent.objects.get(action="validation.health_policy_set")
    assert event.details["production"] is True


def test_another_team_cannot_edit_a_staging_policy(service, environments, api_client_for, cab_member):
    response = api_client_for(cab_member).put(_url(), POLICY, format="json")
    assert response.status_code == 403
    assert not HealthPolicy.objects.exists()


def test_an_outsider_sees_and_sets_nothing(service, environments, api_client_for, outsider):
    client = api_client_for(outsider)
    assert client.get(_url()).status_code in (403, 404)
    assert client.put(_url(), POLICY, format="json").status_code in (403, 404)
    assert not HealthPolicy.objects.exists()


def test_unknown_service_or_environment_is_404(service, environments, api_client_for, requester):
    client = api_client_for(requester)
    assert client.get(_url(service="nope")).status_code == 404
    assert client.get(_url(env="moon")).status_code == 404


def test_the_changes_rollback_criteria_join_the_policy(make_deployment, make_change):
    change = make_change(rollback_criteria={"error_rate_pct": 2, "p95_latency_ms": 800, "window_minutes": 10})
    policy = effective_policy(make_deployment(change=change))
    assert policy["checks"][0] == {"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}
    assert policy["checks"][1:] == [
        {"metric": "error_rate_pct", "comparator": ">", "threshold": 2.0, "for_minutes": 10.0, "source": "change"},
        {"metric": "p95_latency_ms", "comparator": ">", "threshold": 800.0, "for_minutes": 10.0, "source": "change"}]
