"""Outside any request or task context, every delivery service writes history rows naming the
actor it was given: the same person as its audit event, never `system`."""

from __future__ import annotations

import pytest

from apps.audit.actor import current_actor
from apps.audit.models import AuditEvent
from apps.delivery import services

from . import documents as docs

pytestmark = pytest.mark.django_db


def assert_same_actor(record, action, person):
    row = record.history.order_by("-history_id").first()
    event = AuditEvent.objects.filter(action=action, object_id=str(record.pk)).latest("seq")
    assert (row.history_user, row.history_actor_kind, row.history_actor_label) == (person, "user", person.username)
    assert (event.actor, event.actor_type, event.actor_label) == (person, "user", person.username)


@pytest.fixture
def outside_any_request():
    assert current_actor(default_system=False) is None


def test_a_recorded_and_updated_deployment_names_its_actor(outside_any_request, requester, make_artifact, environments):
    artifact = make_artifact()
    deployment = services.deployment_record(service=artifact.service, environment=environments["dev"], artifact=artifact,
                                            actor=requester)
    assert_same_actor(deployment, "delivery.deployment_recorded", requester)
    services.deployment_update(deployment=deployment, status="succeeded", actor=requester)
    assert_same_actor(deployment, "delivery.deployment_updated", requester)


def test_a_registered_artifact_and_its_evidence_name_their_actor(outside_any_request, requester, service):
    from .conftest import digest_of

    artifact = services.artifact_register(service=service, version="2.0.0", digest=digest_of("2.0.0"),
                                          format="oci_image", actor=requester).artifact
    assert_same_actor(artifact, "delivery.artifact_registered", requester)
    evidence = services.evidence_attach(artifact=artifact, kind="junit", data=docs.junit_xml(tests=3), actor=requester)
    assert_same_actor(evidence, "delivery.evidence_attached", requester)
    build = services.evidence_record_build(artifact=artifact, summary={"run_id": "r1", "outcome": "success"},
                                           actor=requester)
    assert_same_actor(build, "delivery.build_recorded", requester)


def test_a_signing_key_registered_and_revoked_names_its_actor(outside_any_request, requester, team, ed25519_key):
    from .conftest import pem_of

    key = services.signing_key_register(team=team, name="ci", public_key_pem=pem_of(ed25519_key), actor=requester)
    assert_same_actor(key, "delivery.signing_key_registered", requester)
    revoked = services.signing_key_revoke(key=key, actor=requester)
    assert revoked.is_active is False
    assert_same_actor(key, "delivery.signing_key_revoked", requester)


def test_a_pull_request_names_its_actor(outside_any_request, requester, service):
    recorded = services.pull_request_record(provider="github", external_id="github:1", service=service, change=None,
                                            action="opened", actor=requester, repository="acme/pay", number=1,
                                            title="Fix", state="open")
    assert_same_actor(recorded.pull_request, "delivery.pull_request_recorded", requester)
