"""Deployments: recorded with commits, the change moved by them, locks released, unauthorised
production deployments flagged, filters, and the audit trail of every pipeline call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.delivery.models import Deployment, DeploymentCommit, DeploymentLock, GateDecision

pytestmark = pytest.mark.django_db


def commits(n=3):
    now = timezone.now()
    return [{"sha": f"{i:040x}", "authored_at": (now - timedelta(hours=i + 1)).isoformat(), "message": f"fix {i}"}
            for i in range(n)]


def post(client, **extra):
    body = {"service": "payments-api", "environment": "prod", "status": "started", "pipeline_run_id": "run-9",
            "pipeline_url": "https://ci.example.test/run/9", "commits": commits()}
    body.update(extra)
    return client.post("/api/v1/deployments/", body, format="json")


@pytest.fixture
def allowed(make_artifact, make_change, promoted):
    """An artifact, a scheduled change and a gate allow for it (which holds the lock)."""
    from apps.delivery import services
    from apps.delivery.models import Artifact

    def make(state="scheduled"):
        artifact = make_artifact()
        promoted(artifact)
        change = make_change(state=state)
        decision = services.gate_check(service=artifact.service, environment=change.environment,
                                       artifact_ref=artifact.digest, change_ref=change.number,
                                       actor=Artifact.objects.get(pk=artifact.pk).created_by)
        assert decision.decision == "allow", decision.reasons
        return artifact, change, decision

    return make


def test_it_records_a_deployment_with_its_commits(pipeline, allowed):
    artifact, change, decision = allowed()
    response = post(pipeline, artifact=artifact.digest, change=change.number)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["version"] == artifact.version and data["change"]["number"] == change.number
    assert data["gate_decision_id"] == decision.pk and data["is_unauthorized"] is False
    assert DeploymentCommit.objects.filter(deployment_id=data["id"]).count() == 3
    detail = pipeline.get(f"/api/v1/deployments/{data['id']}/").json()
    assert len(detail["commits"]) == 3


def test_commits_are_stored_as_sent(pipeline, make_artifact):
    sent = [{"sha": "ABCDEF0123", "authored_at": "2026-11-20T10:15:30.123456+02:00", "message": "héllo"},
            {"sha": "abcdef0123", "authored_at": "2026-11-20T09:00:00Z"},  # the same commit again: kept once
            {"sha": "00ff" * 10, "authored_at": "2026-11-19T23:59:59Z", "message": ""}]
    response = post(pipeline, artifact=make_artifact().digest, environment="dev", commits=sent)
    assert response.status_code == 201, response.json()
    stored = {c.sha: c for c in DeploymentCommit.objects.filter(deployment_id=response.json()["id"])}
    assert set(stored) == {"abcdef0123", "00ff" * 10}
    first = stored["abcdef0123"]
    assert first.authored_at == datetime(2026, 11, 20, 8, 15, 30, 123456, tzinfo=UTC)
    assert first.message == "héllo"
    detail = pipeline.get(f"/api/v1/deployments/{response.json()['id']}/").json()
    assert {c["authored_at"] for c in detail["commits"]} == {"2026-11-20T08:15:30.123456Z", "2026-11-19T23:59:59Z"}


@pytest.mark.parametrize("count", [20, 150])
def test_recording_costs_a_fixed_number_of_queries_whatever_the_commits(pipeline, make_artifact, count,
                                                                         django_assert_max_num_queries):
    from django.db import connection

    artifact = make_artifact()
    post(pipeline, version=artifact.version, environment="dev", commits=commits(2))  # token last_used refreshed
    chain_lock = 1 if connection.vendor == "postgresql" else 0  # the audit chain's advisory lock
    # Token, service, environment, one read of the slot's lock and the artifact by version; the
    # deployment, its history row, its commits in one insert; the audit event.
    with django_assert_max_num_queries(13 + chain_lock):
        response = post(pipeline, version=artifact.version, environment="dev", commits=commits(count))
    assert response.status_code == 201 and response.json()["artifact"] == artifact.digest
    assert DeploymentCommit.objects.filter(deployment_id=response.json()["id"]).count() == count


def test_bad_commits_are_named_by_position_and_field(pipeline, make_artifact):
    sent = [{"sha": "abcdef0", "authored_at": "2026-11-20T10:00:00Z"},
            {"sha": "xyz", "authored_at": "2026-11-20T10:00:00Z"},
            {"sha": "abcdef1", "authored_at": "last tuesday"},
            {"sha": "abcdef2"},
            {"sha": "abcdef3", "authored_at": "2026-11-20T10:00:00Z", "message": "m" * 5001}]
    response = post(pipeline, artifact=make_artifact().digest, environment="dev", commits=sent)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"commits[1].sha", "commits[2].authored_at", "commits[3].authored_at",
                           "commits[4].message"}
    assert not Deployment.objects.exists() and not DeploymentCommit.objects.exists()
    response = post(pipeline, artifact=make_artifact().digest, environment="dev", commits={"sha": "abc"})
    assert response.status_code == 400 and "commits" in response.json()["error"]["fields"]


def test_a_deployment_can_name_its_version_instead_of_the_digest(pipeline, allowed):
    artifact, change, _ = allowed()
    response = post(pipeline, version=artifact.version, change=change.id)
    assert response.status_code == 201
    assert response.json()["artifact"] == artifact.digest


def test_the_change_moves_with_its_deployment(pipeline, allowed):
    artifact, change, _ = allowed()
    deployment_id = post(pipeline, artifact=artifact.digest, change=change.number).json()["id"]
    change.refresh_from_db()
    assert change.state == "implementing"
    response = pipeline.patch(f"/api/v1/deployments/{deployment_id}/", {"status": "succeeded"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["finished_at"] is not None
    change.refresh_from_db()
    assert change.state == "completed"


@pytest.mark.parametrize("outcome", ["failed", "rolled_back"])
def test_a_failed_or_rolled_back_deployment_fails_the_change(pipeline, allowed, outcome):
    artifact, change, _ = allowed()
    deployment_id = post(pipeline, artifact=artifact.digest, change=change.number).json()["id"]
    pipeline.patch(f"/api/v1/deployments/{deployment_id}/", {"status": outcome}, format="json")
    change.refresh_from_db()
    assert change.state == outcome


def test_a_deployment_reported_finished_moves_the_change_through_implementing(pipeline, allowed):
    artifact, change, _ = allowed()
    post(pipeline, artifact=artifact.digest, change=change.number, status="succeeded")
    change.refresh_from_db()
    assert change.state == "completed"
    assert change.implementation_started_at is not None


def test_finishing_the_deployment_releases_the_lock(pipeline, allowed):
    artifact, change, _ = allowed()
    deployment_id = post(pipeline, artifact=artifact.digest, change=change.number).json()["id"]
    assert DeploymentLock.objects.get().deployment_id == deployment_id
    pipeline.patch(f"/api/v1/deployments/{deployment_id}/", {"status": "succeeded"}, format="json")
    assert not DeploymentLock.objects.exists()


def test_an_expired_lock_no_longer_blocks(pipeline, allowed):
    artifact, change, decision = allowed()
    DeploymentLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = pipeline.post("/api/v1/gates/check/", {"service": "payments-api", "environment": "prod",
                                                      "artifact": artifact.digest, "change": change.number},
                             format="json")
    assert response.json()["decision"] == "allow"
    assert DeploymentLock.objects.get().gate_decision_id == response.json()["gate_decision_id"]


def test_a_production_deployment_without_an_allow_is_recorded_and_flagged(pipeline, make_artifact, make_change):
    artifact = make_artifact()
    change = make_change()
    response = post(pipeline, artifact=artifact.digest, change=change.number, status="succeeded")
    assert response.status_code == 201
    assert response.json()["is_unauthorized"] is True
    no_change = post(pipeline, artifact=artifact.digest, status="succeeded")
    assert no_change.json()["is_unauthorized"] is True
    assert Deployment.objects.filter(is_unauthorized=True).count() == 2


def test_a_denied_gate_check_does_not_authorise(pipeline, make_artifact, make_change):
    artifact = make_artifact()
    change = make_change(state="draft")
    pipeline.post("/api/v1/gates/check/", {"service": "payments-api", "environment": "prod",
                                           "artifact": artifact.digest, "change": change.number}, format="json")
    assert GateDecision.objects.get().decision == "deny"
    assert post(pipeline, artifact=artifact.digest, change=change.number).json()["is_unauthorized"] is True


def test_non_production_deployments_are_never_flagged(pipeline, make_artifact):
    assert post(pipeline, artifact=make_artifact().digest, environment="dev").json()["is_unauthorized"] is False


def test_an_account_without_the_deployer_privilege_cannot_report_production(api_client_for, release_manager, environments,
                                                                            make_artifact):
    client = api_client_for(release_manager, ["delivery:write"])
    response = post(client, artifact=make_artifact().digest)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "deployer_not_authorized"
    assert not Deployment.objects.exists()
    assert AuditEvent.objects.filter(action="delivery.deployment_refused").exists()


def test_every_pipeline_call_is_in_the_audit_log_with_run_and_change(pipeline, allowed):
    artifact, change, _ = allowed()
    deployment_id = post(pipeline, artifact=artifact.digest, change=change.number).json()["id"]
    event = AuditEvent.objects.get(action="delivery.deployment_recorded")
    assert event.actor_label == "ci-bot" and event.actor_type == "service_account"
    assert event.details["pipeline_run_id"] == "run-9" and event.details["change"] == change.number
    assert event.object_id == str(deployment_id)
    assert AuditEvent.objects.filter(action="delivery.gate_allow").exists()


def test_a_finished_deployment_cannot_start_again(pipeline, make_artifact):
    deployment_id = post(pipeline, artifact=make_artifact().digest, environment="dev", status="succeeded").json()["id"]
    response = pipeline.patch(f"/api/v1/deployments/{deployment_id}/", {"status": "in_progress"}, format="json")
    assert response.status_code == 409


@pytest.mark.parametrize("bad", [
    {"commits": [{"sha": "not-a-sha", "authored_at": "2026-01-01T00:00:00Z"}]},
    {"commits": [{"sha": "abcdef1"}]},
    {"status": "exploded"},
    {"artifact": "", "version": ""},
    {"change": "CHG-424242"},
    {"environment": "moon"},
    {"started_at": "2026-01-02T00:00:00Z", "finished_at": "2026-01-01T00:00:00Z", "status": "succeeded"},
])
def test_bad_input_is_a_400_not_a_500(pipeline, make_artifact, bad):
    response = post(pipeline, **{"artifact": make_artifact().digest, "environment": "dev", **bad})
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"]


def test_the_list_filters_by_service_environment_status_and_finish(pipeline, make_artifact, environments,
                                                                   django_assert_max_num_queries):
    artifact = make_artifact()
    now = timezone.now()
    for i, (env, state) in enumerate([("dev", "succeeded"), ("staging", "failed"), ("prod", "succeeded"),
                                      ("prod", "rolled_back"), ("dev", "in_progress")]):
        Deployment.objects.create(service=artifact.service, environment=environments[env], artifact=artifact,
                                  status=state, started_at=now - timedelta(days=i, hours=1),
                                  finished_at=None if state == "in_progress" else now - timedelta(days=i))
    with django_assert_max_num_queries(8):
        everything = pipeline.get("/api/v1/deployments/").json()
    assert everything["count"] == 5
    assert pipeline.get("/api/v1/deployments/?environment=prod").json()["count"] == 2
    assert pipeline.get("/api/v1/deployments/?status=failed").json()["count"] == 1
    assert pipeline.get("/api/v1/deployments/?service=other").json()["count"] == 0
    after = (now - timedelta(days=2, hours=1)).isoformat().replace("+00:00", "Z")
    assert pipeline.get("/api/v1/deployments/", {"finished_after": after}).json()["count"] == 3
    before = (now - timedelta(days=1, minutes=30)).isoformat().replace("+00:00", "Z")
    assert pipeline.get("/api/v1/deployments/", {"finished_before": before}).json()["count"] == 2


def test_idempotency_key_replays_the_first_deployment(pipeline, make_artifact):
    artifact = make_artifact()
    first = pipeline.post("/api/v1/deployments/", {"service": "payments-api", "environment": "dev",
                                                   "artifact": artifact.digest}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = pipeline.post("/api/v1/deployments/", {"service": "payments-api", "environment": "dev",
                                                   "artifact": artifact.digest}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.json()["id"] == again.json()["id"]
    assert Deployment.objects.count() == 1


def test_a_non_production_allow_without_a_change_is_released_by_its_deployment(pipeline, make_artifact, promoted):
    artifact = make_artifact()
    promoted(artifact, "dev")
    check = {"service": "payments-api", "environment": "staging", "artifact": artifact.digest}
    assert pipeline.post("/api/v1/gates/check/", check, format="json").json()["decision"] == "allow"
    deployment = post(pipeline, artifact=artifact.digest, environment="staging").json()
    assert deployment["gate_decision_id"] is not None
    pipeline.patch(f"/api/v1/deployments/{deployment['id']}/", {"status": "succeeded"}, format="json")
    assert pipeline.post("/api/v1/gates/check/", check, format="json").json()["decision"] == "allow"


def test_only_a_deployer_may_update_a_production_deployment(pipeline, api_client_for, release_manager, make_artifact):
    deployment_id = post(pipeline, artifact=make_artifact().digest).json()["id"]
    other = api_client_for(release_manager, ["delivery:write"])
    response = other.patch(f"/api/v1/deployments/{deployment_id}/", {"status": "succeeded"}, format="json")
    assert response.status_code == 403
    assert Deployment.objects.get(pk=deployment_id).status == "started"


def test_the_written_out_answer_matches_the_declared_fields(pipeline, allowed):
    """DeploymentOut writes its answer directly; the declared fields (the OpenAPI description) must
    produce exactly the same thing."""
    from rest_framework import serializers

    from apps.delivery.selectors import deployment_detail
    from apps.delivery.serializers import DeploymentDetailOut, DeploymentOut

    artifact, change, _ = allowed()
    response = post(pipeline, artifact=artifact.digest, change=change.number, status="succeeded",
                    started_at="2026-11-20T10:00:00.5+01:00", finished_at="2026-11-20T10:30:00Z")
    deployment = deployment_detail(response.json()["id"])
    for out in (DeploymentOut(deployment), DeploymentDetailOut(deployment)):
        declared = serializers.Serializer.to_representation(out, deployment)
        assert out.data == declared
        assert list(out.data) == list(declared)
    assert response.json() == serializers.Serializer.to_representation(DeploymentOut(deployment), deployment)
    bare = post(pipeline, version="9.9.9", environment="dev").json()  # no artifact, change or finish
    deployment = deployment_detail(bare["id"])
    assert bare == serializers.Serializer.to_representation(DeploymentOut(deployment), deployment)
    assert bare["artifact"] is None and bare["change"] is None and bare["finished_at"] is None
