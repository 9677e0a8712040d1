"""Shared-resource locks: a starting deployment holds the named resources (all or none) until it
finishes; another asking for one meanwhile is refused 409 `resource_locked` naming the resource
and its holder; the gate denies with the same code; unknown names are a 400 naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.delivery.models import Deployment, SharedResource, SharedResourceLock

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(service):
    resource = SharedResource.objects.create(name="Ledger database", slug="ledger-db", kind="database",
                                             description="The payments ledger, migrated by two services.")
    resource.services.add(service)
    return resource


@pytest.fixture
def config_store(db):
    return SharedResource.objects.create(name="Feature flags", slug="flags", kind="config_store")


@pytest.fixture
def other_service(other_team):
    from tests.factories import ServiceFactory

    return ServiceFactory(slug="ledger-api", name="Ledger API", owner_team=other_team)


def start(client, service="payments-api", status="started", **extra):
    body = {"service": service, "environment": "staging", "version": "1.0.0", "status": status, **extra}
    return client.post("/api/v1/deployments/", body, format="json")


def test_a_starting_deployment_holds_its_shared_resources(pipeline, ledger, config_store):
    response = start(pipeline, shared_resources=["ledger-db", "flags"])
    assert response.status_code == 201, response.json()
    deployment_id = response.json()["id"]
    assert set(SharedResourceLock.objects.filter(deployment_id=deployment_id)
               .values_list("resource__slug", flat=True)) == {"ledger-db", "flags"}
    event = AuditEvent.objects.get(action="delivery.deployment_recorded", object_id=str(deployment_id))
    assert event.details["shared_resources_acquired"] == ["flags", "ledger-db"]


def test_a_second_deployment_asking_for_a_held_resource_is_refused_naming_resource_and_holder(
        pipeline, ledger, other_service):
    holder = start(pipeline, shared_resources=["ledger-db"]).json()["id"]
    before = Deployment.objects.count()
    response = start(pipeline, service=other_service.slug, shared_resources=["ledger-db"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "resource_locked"
    assert "ledger-db" in error["message"] and f"#{holder}" in error["message"]
    assert any("ledger-db" in m and f"#{holder}" in m for m in error["fields"]["shared_resources"])
    assert Deployment.objects.count() == before
    refused = AuditEvent.objects.get(action="delivery.deployment_refused")
    assert refused.details["reason"] == "resource_locked"
    assert refused.details["shared_resources"] == ["ledger-db"]


def test_acquiring_is_all_or_none(pipeline, ledger, config_store, other_service):
    start(pipeline, shared_resources=["ledger-db"])
    response = start(pipeline, service=other_service.slug, shared_resources=["flags", "ledger-db"])
    assert response.status_code == 409
    # The free one was not kept by the refused request.
    assert not SharedResourceLock.objects.filter(resource=config_store).exists()
    assert start(pipeline, service=other_service.slug, shared_resources=["flags"]).status_code == 201


@pytest.mark.parametrize("url", ["/api/v1/deployments/", "/api/v1/gates/check/"])
def test_an_unknown_resource_is_a_400_naming_the_field(pipeline, ledger, url):
    body = {"service": "payments-api", "environment": "staging", "version": "1.0.0",
            "shared_resources": ["ledger-db", "no-such-db"]}
    deployments, events = Deployment.objects.count(), AuditEvent.objects.count()
    response = pipeline.post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["shared_resources"] == ["unknown: no-such-db"]
    assert Deployment.objects.count() == deployments and AuditEvent.objects.count() == events
    assert not SharedResourceLock.objects.exists()


def test_a_malformed_list_is_a_400_naming_the_field(pipeline, ledger):
    response = start(pipeline, shared_resources="ledger-db")
    assert response.status_code == 400
    assert "shared_resources" in response.json()["error"]["fields"]


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "rolled_back"])
def test_the_resources_are_released_when_the_deployment_finishes(pipeline, ledger, other_service, outcome):
    holder = start(pipeline, shared_resources=["ledger-db"]).json()["id"]
    if outcome == "rolled_back":
        assert pipeline.patch(f"/api/v1/deployments/{holder}/", {"status": "in_progress"},
                              format="json").status_code == 200
        assert SharedResourceLock.objects.filter(deployment_id=holder).exists()
    response = pipeline.patch(f"/api/v1/deployments/{holder}/", {"status": outcome}, format="json")
    assert response.status_code == 200, response.json()
    assert not SharedResourceLock.objects.exists()
    event = AuditEvent.objects.filter(action="delivery.deployment_updated", object_id=str(holder)).latest("seq")
    assert event.details["shared_resources_released"] == ["ledger-db"]
    assert start(pipeline, service=other_service.slug, shared_resources=["ledger-db"]).status_code == 201


def test_a_deployment_recorded_already_finished_holds_nothing(pipeline, ledger, other_service):
    assert start(pipeline, status="succeeded", shared_resources=["ledger-db"]).status_code == 201
    assert not SharedResourceLock.objects.exists()


def test_an_expired_lock_is_taken_over(pipeline, ledger, other_service):
    holder = start(pipeline, shared_resources=["ledger-db"]).json()["id"]
    SharedResourceLock.objects.filter(deployment_id=holder).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = start(pipeline, service=other_service.slug, shared_resources=["ledger-db"])
    assert response.status_code == 201
    assert SharedResourceLock.objects.get().deployment_id == response.json()["id"]


def test_the_gate_denies_while_a_named_resource_is_held(pipeline, ledger, other_service, make_artifact, promoted):
    holder = start(pipeline, service=other_service.slug, shared_resources=["ledger-db"]).json()["id"]
    artifact = make_artifact()
    promoted(artifact, "dev")
    body = {"service": "payments-api", "environment": "staging", "artifact": artifact.digest,
            "shared_resources": ["ledger-db"]}
    answer = pipeline.post("/api/v1/gates/check/", body, format="json")
    assert answer.status_code == 200
    data = answer.json()
    assert data["decision"] == "deny"
    denials = [r for r in data["reasons"] if r["severity"] == "deny"]
    assert [r["code"] for r in denials] == ["resource_locked"]
    assert "ledger-db" in denials[0]["message"] and f"#{holder}" in denials[0]["message"]
    assert AuditEvent.objects.filter(action="delivery.gate_deny").latest("seq").details["shared_resources"] == [
        "ledger-db"]

    assert pipeline.patch(f"/api/v1/deployments/{holder}/", {"status": "succeeded"}, format="json").status_code == 200
    again = pipeline.post("/api/v1/gates/check/", body, format="json").json()
    assert again["decision"] == "allow", again["reasons"]


def test_the_shared_resources_page_shows_who_holds_what(client, requester, pipeline, ledger, config_store,
                                                        django_assert_max_num_queries):
    holder = start(pipeline, shared_resources=["ledger-db"]).json()["id"]
    for n in range(4):
        SharedResource.objects.create(name=f"Store {n}", slug=f"store-{n}", kind="config_store")
    client.force_login(requester)
    with django_assert_max_num_queries(12):
        response = client.get("/delivery/shared-resources/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'href="/delivery/deployments/{holder}/"' in body
    assert "ledger-db" in body and "store-3" in body and 'href="/services/payments-api/"' in body
    # The service page lists the resources the service declares, with their holder.
    page = client.get("/services/payments-api/").content.decode()
    assert "Shared resources this service uses" in page and f"deployment #{holder}" in page


def test_the_shared_resources_page_refuses_outsiders_and_anonymous(client, outsider, ledger):
    response = client.get("/delivery/shared-resources/")
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(outsider)
    assert client.get("/delivery/shared-resources/").status_code in (403, 404)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_simultaneous_deployments_asking_for_the_same_resources_exactly_one_wins(
        service, other_service, environments, deployer, ledger, config_store):
    """Twelve deployments of two services start at once, half naming [ledger-db, flags] and half
    [flags, ledger-db]: one holds both, the others are refused, nobody deadlocks."""
    from apps.delivery import services
    from apps.delivery.resource_locks import ResourceLocked
    from tests.concurrency import race

    def attempt(i):
        names = ["ledger-db", "flags"] if i % 2 else ["flags", "ledger-db"]
        try:
            services.deployment_record(service=service if i % 2 else other_service, environment=environments["staging"],
                                       version=f"1.0.{i}", actor=deployer, shared_resources=names)
        except ResourceLocked:
            return "refused"
        return "held"

    results = race(12, attempt)
    assert results.count("held") == 1
    assert Deployment.objects.count() == 1
    winner = Deployment.objects.get()
    assert set(SharedResourceLock.objects.values_list("deployment_id", flat=True)) == {winner.pk}
    assert SharedResourceLock.objects.count() == 2
    assert AuditEvent.objects.filter(action="delivery.deployment_refused").count() == 11
