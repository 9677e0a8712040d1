"""Webhooks: GitHub signatures and GitLab tokens verified, deliveries deduplicated, payloads
mapped onto deployments and artifacts (real GitHub payloads from ../shared/fixtures, our own
GitLab ones)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import TestCase

from apps.delivery.models import Deployment, Evidence, WebhookDelivery, WebhookIntegration

from .conftest import shared_fixture

pytestmark = pytest.mark.django_db

SECRET = "s3cret-hook"


@pytest.fixture
def hooked_service(service, environments):
    service.repository_url = "https://github.com/Codertocat/Hello-World"
    service.save()
    WebhookIntegration.objects.create(provider="github", name="GitHub", secret=SECRET)
    WebhookIntegration.objects.create(provider="gitlab", name="GitLab", secret="gl-token", default_service=service)
    return service


def github(client, event, body: bytes, *, delivery="d-1", secret=SECRET):
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    with TestCase.captureOnCommitCallbacks(execute=True):  # the Celery task runs on commit
        return client.post("/hooks/github/", body, content_type="application/json", HTTP_X_GITHUB_EVENT=event,
                       HTTP_X_GITHUB_DELIVERY=delivery, HTTP_X_HUB_SIGNATURE_256=signature)


def test_a_signed_github_deployment_is_recorded(client, hooked_service):
    body = shared_fixture("github/deployment.json").read_bytes()
    response = github(client, "deployment", body)
    assert response.status_code == 202, response.content
    deployment = Deployment.objects.get()
    assert deployment.service == hooked_service and deployment.environment.slug == "prod"
    assert deployment.external_id == "github:145988746" and deployment.status == "started"
    # No gate allow preceded it: recorded all the same, flagged.
    assert deployment.is_unauthorized is True
    assert WebhookDelivery.objects.get().status == "processed"


def test_deployment_status_finishes_the_deployment(client, hooked_service):
    github(client, "deployment", shared_fixture("github/deployment.json").read_bytes(), delivery="a")
    response = github(client, "deployment_status", shared_fixture("github/deployment_status.json").read_bytes(),
                      delivery="b")
    assert response.status_code == 202
    deployment = Deployment.objects.get()
    assert deployment.status == "succeeded" and deployment.finished_at is not None


def test_a_bad_signature_is_refused_with_401(client, hooked_service):
    body = shared_fixture("github/deployment.json").read_bytes()
    assert github(client, "deployment", body, secret="wrong").status_code == 401
    response = client.post("/hooks/github/", body, content_type="application/json", HTTP_X_GITHUB_EVENT="deployment",
                           HTTP_X_GITHUB_DELIVERY="d-2")
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists() and not Deployment.objects.exists()


def test_a_tampered_body_fails_the_signature(client, hooked_service):
    body = shared_fixture("github/deployment.json").read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    tampered = body.replace(b"production", b"staging")
    response = client.post("/hooks/github/", tampered, content_type="application/json", HTTP_X_GITHUB_EVENT="deployment",
                           HTTP_X_GITHUB_DELIVERY="d-3", HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 401


def test_a_replayed_delivery_changes_nothing(client, hooked_service):
    body = shared_fixture("github/deployment.json").read_bytes()
    assert github(client, "deployment", body, delivery="same").status_code == 202
    Deployment.objects.all().delete()
    replay = github(client, "deployment", body, delivery="same")
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert not Deployment.objects.exists()
    assert WebhookDelivery.objects.count() == 1


def test_ping_answers_pong(client, hooked_service):
    assert github(client, "ping", shared_fixture("github/ping.json").read_bytes()).json() == {"status": "pong"}


def test_workflow_run_becomes_build_evidence_on_its_artifacts(client, hooked_service, make_artifact):
    payload = json.loads(shared_fixture("github/workflow_run_completed.json").read_bytes())
    payload["repository"]["full_name"] = "Codertocat/Hello-World"
    artifact = make_artifact()
    artifact.git_sha = payload["workflow_run"]["head_sha"]
    artifact.save()
    response = github(client, "workflow_run", json.dumps(payload).encode())
    assert response.status_code == 202
    build = Evidence.objects.get(artifact=artifact)
    assert build.summary["outcome"] == "success" and build.summary["run_id"] == "289782451"


def test_unknown_repositories_are_ignored_not_errors(client, service, environments):
    WebhookIntegration.objects.create(provider="github", name="GitHub", secret=SECRET)
    response = github(client, "deployment", shared_fixture("github/deployment.json").read_bytes())
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().status == "ignored"


def test_the_hook_needs_no_csrf_token(hooked_service, make_artifact):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = json.dumps({"zen": "hi"}).encode()
    assert github(strict, "ping", body).status_code == 200


# --- GitLab (our own payloads, shaped like GitLab's documented deployment and pipeline events) ---

def gitlab_deployment(status, deployment_id=77, **extra):
    payload = {"object_kind": "deployment", "status": status, "status_changed_at": "2026-11-20 10:00:00 +0000",
               "deployment_id": deployment_id, "deployable_id": 901, "deployable_url": "https://gitlab.example.test/j/901",
               "environment": "staging", "project": {"path_with_namespace": "acme/payments", "web_url":
                                                     "https://gitlab.example.test/acme/payments"},
               "ref": "main", "sha": "b" * 40}
    payload.update(extra)
    return json.dumps(payload).encode()


def gitlab(client, body, *, uuid="u-1", token="gl-token"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/hooks/gitlab/", body, content_type="application/json", HTTP_X_GITLAB_TOKEN=token,
                       HTTP_X_GITLAB_EVENT_UUID=uuid, HTTP_X_GITLAB_EVENT="Deployment Hook")


def test_gitlab_deployments_are_recorded_and_finished(client, hooked_service):
    assert gitlab(client, gitlab_deployment("running"), uuid="1").status_code == 202
    deployment = Deployment.objects.get()
    assert deployment.environment.slug == "staging" and deployment.status == "in_progress"
    assert deployment.service == hooked_service  # the integration's default service
    assert gitlab(client, gitlab_deployment("success"), uuid="2").status_code == 202
    deployment.refresh_from_db()
    assert deployment.status == "succeeded"


def test_gitlab_with_a_wrong_token_is_refused(client, hooked_service):
    assert gitlab(client, gitlab_deployment("running"), token="nope").status_code == 401
    assert client.post("/hooks/gitlab/", gitlab_deployment("running"), content_type="application/json").status_code == 401
    assert not Deployment.objects.exists()


def test_gitlab_replays_are_deduplicated(client, hooked_service):
    gitlab(client, gitlab_deployment("running"), uuid="same")
    assert gitlab(client, gitlab_deployment("success"), uuid="same").json()["status"] == "duplicate"
    assert Deployment.objects.get().status == "in_progress"


def test_gitlab_pipeline_events_become_build_evidence(client, hooked_service, make_artifact):
    artifact = make_artifact()
    artifact.git_sha = "c" * 40
    artifact.save()
    body = json.dumps({"object_kind": "pipeline", "object_attributes": {"id": 555, "sha": "c" * 40, "status": "failed",
                                                                        "ref": "main", "url": "https://gl/p/555"},
                       "project": {"path_with_namespace": "acme/payments"}}).encode()
    assert gitlab(client, body).status_code == 202
    assert Evidence.objects.get(artifact=artifact).summary["outcome"] == "failed"


def test_malformed_json_is_a_400(client, hooked_service):
    assert gitlab(client, b"{nope").status_code == 400
    assert not WebhookDelivery.objects.exists()
    body = b"[1,2]"
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post("/hooks/github/", body, content_type="application/json", HTTP_X_GITHUB_EVENT="deployment",
                           HTTP_X_GITHUB_DELIVERY="x", HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 400
