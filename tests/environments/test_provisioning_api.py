"""The provisioning endpoint's conventions: history with the actor, Idempotency-Key, scopes,
who may post, and outsiders."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.environments.models import Provision

from .conftest import real_plan

pytestmark = pytest.mark.django_db


def test_the_run_is_recorded_with_history_and_one_audit_event(post_provision, environments, deployer):
    body = post_provision(env="staging", plan=real_plan("update"), pipeline_run_id="run-77").json()
    provision = Provision.objects.get(pk=body["id"])
    assert provision.created_by == deployer and provision.pipeline_run_id == "run-77"
    history = provision.history.get()
    assert history.history_user == deployer and history.history_actor_kind == "service_account"
    event = AuditEvent.objects.get(action="environments.provision_recorded")
    assert event.details["pipeline_run_id"] == "run-77" and event.details["environment"] == "staging"


def test_an_idempotency_key_replays_and_creates_nothing(pipeline, environments):
    body = {"tool": "terraform", "status": "applied", "plan": real_plan("update")}
    url = "/api/v1/environments/staging/provisions/"
    first = pipeline.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = pipeline.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = pipeline.post(url, {**body, "status": "failed"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Provision.objects.count() == 1


def test_a_release_manager_may_post_and_a_requester_may_not(api_client_for, release_manager, requester,
                                                            post_provision, environments):
    assert post_provision(env="dev", client=api_client_for(release_manager)).status_code == 201
    refused = post_provision(env="dev", client=api_client_for(requester))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert Provision.objects.count() == 1


def test_a_read_only_token_may_not_post(api_client_for, deployer, post_provision, environments):
    client = api_client_for(deployer, ["delivery:read"])
    assert post_provision(env="dev", client=client).status_code == 403
    assert Provision.objects.count() == 0


def test_an_unknown_environment_is_404(post_provision, environments):
    assert post_provision(env="moon").status_code == 404


def test_an_outsider_gets_nothing(api_client_for, outsider, post_provision, pipeline, environments):
    post_provision(env="dev", plan=real_plan("update"))
    client = api_client_for(outsider)
    assert client.get("/api/v1/environments/dev/provisions/").status_code == 403
    provision = Provision.objects.get()
    assert client.get(f"/api/v1/environments/dev/provisions/{provision.pk}/").status_code == 403
    assert post_provision(env="dev", client=client).status_code == 403
    assert Provision.objects.count() == 1


def test_members_list_and_read_runs_with_their_addresses(api_client_for, requester, post_provision, environments):
    post_provision(env="dev", plan=real_plan("basic"))
    post_provision(env="staging", plan=real_plan("update"))
    client = api_client_for(requester)
    listed = client.get("/api/v1/environments/dev/provisions/").json()
    assert listed["count"] == 1 and listed["results"][0]["summary"]["create"] == 7
    pk = listed["results"][0]["id"]
    detail = client.get(f"/api/v1/environments/dev/provisions/{pk}/").json()
    assert len(detail["resources"]) == 8
    assert {"address": "null_resource.bar", "resource_type": "null_resource", "mode": "managed",
            "action": "create"} in detail["resources"]
    assert client.get(f"/api/v1/environments/staging/provisions/{pk}/").status_code == 404
