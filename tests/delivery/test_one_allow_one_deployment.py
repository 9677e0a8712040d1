"""A gate allow authorises exactly one deployment: its service, environment, artifact and change,
within its lock. Anything else is recorded as unauthorised and shows in reconciliation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.delivery import services
from apps.delivery.models import Deployment, DeploymentLock, GateDecision
from tests.concurrency import race

from . import documents as docs


def post(client, artifact, change, **extra):
    body = {"service": "payments-api", "environment": "prod", "artifact": artifact.digest, "change": change.number,
            "status": "started", "pipeline_run_id": "run-7", **extra}
    return client.post("/api/v1/deployments/", body, format="json")


def gate(client, artifact, change):
    body = {"service": "payments-api", "environment": "prod", "artifact": artifact.digest, "change": change.number}
    return client.post("/api/v1/gates/check/", body, format="json").json()


MONTH = "2026-11"


@pytest.fixture
def scenario(clock, make_artifact, promoted, make_change, deployer):
    """Artifact A allowed into production for an approved change; artifact B built for the same
    change with failing tests and never promoted, denied by the gate. In mid-November 2026."""
    clock(f"{MONTH}-18 10:00")
    change = make_change()
    a = make_artifact()
    promoted(a)
    allow = services.gate_check(service=a.service, environment=change.environment, artifact_ref=a.digest,
                                change_ref=change.number, actor=deployer)
    assert allow.decision == "allow", allow.reasons
    b = make_artifact()
    services.evidence_attach(artifact=b, kind="junit", data=docs.junit_xml(tests=5, failures=2), actor=deployer)
    return {"change": change, "a": a, "b": b, "allow": allow}


@pytest.mark.django_db
def test_an_allow_for_artifact_a_does_not_authorise_artifact_b(pipeline, scenario):
    change, a, b, allow = scenario["change"], scenario["a"], scenario["b"], scenario["allow"]
    assert gate(pipeline, b, change)["decision"] == "deny"
    answer = post(pipeline, b, change).json()
    assert answer["is_unauthorized"] is True and answer["gate_decision_id"] is None
    # A's allow is still A's to use.
    answer = post(pipeline, a, change).json()
    assert answer["is_unauthorized"] is False and answer["gate_decision_id"] == allow.pk


@pytest.mark.django_db
def test_an_allow_authorises_one_deployment_only(pipeline, scenario):
    change, a, allow = scenario["change"], scenario["a"], scenario["allow"]
    first = post(pipeline, a, change).json()
    second = post(pipeline, a, change).json()
    assert first["gate_decision_id"] == allow.pk and first["is_unauthorized"] is False
    assert second["gate_decision_id"] is None and second["is_unauthorized"] is True
    assert Deployment.objects.filter(gate_decision=allow).count() == 1


@pytest.mark.django_db
def test_an_allow_used_by_a_finished_deployment_is_gone(pipeline, scenario):
    change, a = scenario["change"], scenario["a"]
    assert post(pipeline, a, change, status="succeeded").json()["is_unauthorized"] is False
    assert not DeploymentLock.objects.exists()
    assert post(pipeline, a, change, status="succeeded").json()["is_unauthorized"] is True


@pytest.mark.django_db
def test_an_allow_for_one_change_does_not_authorise_another(pipeline, scenario, make_change):
    other = make_change()  # approved too, same service and environment
    answer = post(pipeline, scenario["a"], other).json()
    assert answer["is_unauthorized"] is True and answer["gate_decision_id"] is None


@pytest.mark.django_db
def test_an_allow_whose_lock_expired_authorises_nothing(pipeline, scenario):
    DeploymentLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post(pipeline, scenario["a"], scenario["change"]).json()["is_unauthorized"] is True


@pytest.mark.django_db
def test_a_version_that_is_not_the_artifacts_is_refused(pipeline, scenario):
    response = post(pipeline, scenario["a"], scenario["change"], version=scenario["b"].version)
    assert response.status_code == 400
    assert "version" in response.json()["error"]["fields"]
    assert not Deployment.objects.filter(environment__slug="prod").exists()


@pytest.mark.django_db
def test_the_database_refuses_a_second_deployment_on_one_allow(scenario):
    allow, a = scenario["allow"], scenario["a"]
    Deployment.objects.create(service=a.service, environment=allow.environment, artifact=a, version=a.version,
                              gate_decision=allow)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(service=a.service, environment=allow.environment, artifact=a, version=a.version,
                                  gate_decision=allow)


@pytest.mark.django_db
def test_an_allow_used_behind_the_locks_back_is_not_used_twice(pipeline, scenario):
    """The lock does not know this allow was used (a row written past the service): the
    constraint still refuses a second link, and the deployment is recorded, unauthorised."""
    allow, a = scenario["allow"], scenario["a"]
    Deployment.objects.create(service=a.service, environment=allow.environment, artifact=a, version=a.version,
                              change=scenario["change"], gate_decision=allow)
    response = post(pipeline, a, scenario["change"])
    assert response.status_code == 201, response.json()
    assert response.json()["is_unauthorized"] is True and response.json()["gate_decision_id"] is None


@pytest.mark.django_db
def test_reconciliation_lists_the_unauthorised_deployments(pipeline, client, auditor, scenario):
    change, a, b = scenario["change"], scenario["a"], scenario["b"]
    wrong = post(pipeline, b, change).json()["id"]
    right = post(pipeline, a, change).json()["id"]
    again = post(pipeline, a, change).json()["id"]
    client.force_login(auditor)
    rows = {r.deployment.pk: r.exceptions for r in
            client.get(f"/delivery/reconciliation/?month={MONTH}").context["rows"]}
    assert "unauthorized" in rows[wrong] and "unauthorized" in rows[again]
    assert rows[right] == []
    lines = client.get(f"/delivery/reconciliation/?month={MONTH}&format=csv").content.decode().splitlines()
    flagged = {int(line.split(",")[0]) for line in lines[1:] if "unauthorized" in line}
    assert flagged == {wrong, again}
    listed = pipeline.get("/api/v1/deployments/", {"is_unauthorized": "true"}).json()
    assert {d["id"] for d in listed["results"]} == {wrong, again}


@pytest.mark.django_db
def test_reconciliation_flags_a_deployment_linked_to_another_artifacts_allow(client, auditor, scenario):
    """Records made before an allow was held to one deployment may point at another artifact's."""
    allow, b = scenario["allow"], scenario["b"]
    legacy = Deployment.objects.create(service=b.service, environment=allow.environment, artifact=b, version=b.version,
                                       change=scenario["change"], gate_decision=allow, status="succeeded",
                                       finished_at=timezone.now())
    client.force_login(auditor)
    rows = client.get(f"/delivery/reconciliation/?month={MONTH}").context["rows"]
    assert "gate_mismatch" in next(r for r in rows if r.deployment.pk == legacy.pk).exceptions


# --- under contention, on PostgreSQL --------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_deployments_of_another_artifact_are_all_unauthorised(scenario, token_for, deployer,
                                                                              client, auditor):
    from rest_framework.test import APIClient

    change, a, b, allow = scenario["change"], scenario["a"], scenario["b"], scenario["allow"]
    token = token_for(deployer, ["delivery:read", "delivery:write"])

    def client_():
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return api

    assert gate(client_(), b, change)["decision"] == "deny"
    answers = race(10, lambda i: post(client_(), b, change, pipeline_run_id=f"run-b{i}"))
    assert [r.status_code for r in answers] == [201] * 10
    assert all(r.json()["is_unauthorized"] and r.json()["gate_decision_id"] is None for r in answers)
    assert not Deployment.objects.filter(gate_decision=allow).exists()
    assert post(client_(), a, change).json()["gate_decision_id"] == allow.pk
    client.force_login(auditor)
    rows = client.get(f"/delivery/reconciliation/?month={MONTH}").context["rows"]
    flagged = {r.deployment.pk for r in rows if "unauthorized" in r.exceptions}
    assert flagged == {r.json()["id"] for r in answers}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_started_deployments_use_one_allow_once(scenario, deployer):
    change, a, allow = scenario["change"], scenario["a"], scenario["allow"]

    def record(i):
        return services.deployment_record(service=a.service, environment=change.environment, artifact=a,
                                          change=change, status="started", pipeline_run_id=f"run-{i}", actor=deployer)

    recorded = race(20, record)
    authorised = [d for d in recorded if d.gate_decision_id is not None]
    assert len(authorised) == 1 and authorised[0].gate_decision_id == allow.pk
    assert sum(d.is_unauthorized for d in recorded) == 19
    assert Deployment.objects.filter(is_unauthorized=True).count() == 19
    assert DeploymentLock.objects.get().deployment_id == authorised[0].pk
    assert GateDecision.objects.get(pk=allow.pk).deployments.count() == 1
