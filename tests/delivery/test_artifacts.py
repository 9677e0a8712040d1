"""Artifacts: immutable versions, version policies, signatures verified over the digest."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from apps.delivery.models import Artifact, SigningKey, VersionPolicy
from apps.delivery.services import signing_key_register

from .conftest import digest_of, pem_of, sign

pytestmark = pytest.mark.django_db


def body(**extra):
    data = {"service": "payments-api", "version": "1.4.0", "digest": digest_of("one"), "git_sha": "abcdef1234567",
            "pipeline_id": "981", "build_id": "b-7", "format": "oci_image"}
    data.update(extra)
    return data


def test_it_registers_an_artifact(pipeline, service):
    response = pipeline.post("/api/v1/artifacts/", body(), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["digest"] == digest_of("one")
    assert response.json()["signature_status"] == "unsigned"
    assert Artifact.objects.get().created_by.username == "ci-bot"


def test_it_refuses_the_same_version_with_another_digest(pipeline, service):
    assert pipeline.post("/api/v1/artifacts/", body(), format="json").status_code == 201
    response = pipeline.post("/api/v1/artifacts/", body(digest=digest_of("two")), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "artifact_version_immutable"
    assert Artifact.objects.get().digest == digest_of("one")


def test_registering_the_same_version_and_digest_again_changes_nothing(pipeline, service):
    first = pipeline.post("/api/v1/artifacts/", body(), format="json")
    again = pipeline.post("/api/v1/artifacts/", body(), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Artifact.objects.count() == 1


def test_it_refuses_a_malformed_digest(pipeline, service):
    response = pipeline.post("/api/v1/artifacts/", body(digest="md5:abc"), format="json")
    assert response.status_code == 400
    assert "digest" in response.json()["error"]["fields"]


@pytest.mark.parametrize("version,ok", [
    ("1.4.0+abcdef1.981", True),
    ("1.4.0-rc.1+abcdef1.981", True),
    ("1.4.0", False),                 # no build metadata
    ("1.4.0+1234567.981", False),     # another commit
    ("1.4.0+abcdef1.982", False),     # another pipeline
    ("v1.4+abcdef1.981", False),      # not semver
])
def test_the_version_policy_requires_build_metadata(pipeline, service, version, ok):
    VersionPolicy.objects.create(service=service, pattern="{semver}+{git_sha:7}.{pipeline_id}")
    response = pipeline.post("/api/v1/artifacts/", body(version=version), format="json")
    if ok:
        assert response.status_code == 201, response.json()
    else:
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "version_policy_violation"


@pytest.mark.parametrize("key_factory", [ed25519.Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256R1())],
                         ids=["ed25519", "ecdsa-p256"])
def test_a_valid_signature_is_verified_and_names_its_key(pipeline, service, team, requester, key_factory):
    private = key_factory()
    key = signing_key_register(team=team, name="ci", public_key_pem=pem_of(private), actor=requester)
    response = pipeline.post("/api/v1/artifacts/", body(signature=sign(private, digest_of("one"))), format="json")
    assert response.status_code == 201
    assert response.json()["signature_status"] == "valid"
    assert response.json()["signing_key"]["fingerprint"] == key.fingerprint


def test_a_signature_over_another_digest_is_invalid(pipeline, service, team, requester, ed25519_key):
    signing_key_register(team=team, name="ci", public_key_pem=pem_of(ed25519_key), actor=requester)
    response = pipeline.post("/api/v1/artifacts/", body(signature=sign(ed25519_key, digest_of("other"))), format="json")
    assert response.json()["signature_status"] == "invalid"
    assert response.json()["signing_key"] is None


def test_a_signature_by_a_key_the_team_has_not_registered_is_invalid(pipeline, service, team, other_team, requester,
                                                                     ed25519_key, p256_key):
    signing_key_register(team=team, name="ci", public_key_pem=pem_of(ed25519_key), actor=requester)
    # Another team's key verifies nothing for payments-api.
    signing_key_register(team=other_team, name="theirs", public_key_pem=pem_of(p256_key), actor=requester)
    response = pipeline.post("/api/v1/artifacts/", body(signature=sign(p256_key, digest_of("one"))), format="json")
    assert response.json()["signature_status"] == "invalid"


def test_garbage_signatures_are_invalid_not_errors(pipeline, service, team, requester, ed25519_key):
    signing_key_register(team=team, name="ci", public_key_pem=pem_of(ed25519_key), actor=requester)
    response = pipeline.post("/api/v1/artifacts/", body(signature="not base64 at all!"), format="json")
    assert response.status_code == 201
    assert response.json()["signature_status"] == "invalid"


def test_a_revoked_key_no_longer_verifies(pipeline, service, team, requester, ed25519_key):
    from apps.delivery.services import signing_key_revoke

    key = signing_key_register(team=team, name="ci", public_key_pem=pem_of(ed25519_key), actor=requester)
    signing_key_revoke(key=key, actor=requester)
    response = pipeline.post("/api/v1/artifacts/", body(signature=sign(ed25519_key, digest_of("one"))), format="json")
    assert response.json()["signature_status"] == "invalid"


def test_the_teams_service_account_registers_a_key(pipeline, team, p256_key):
    response = pipeline.post("/api/v1/signing-keys/", {"team": "payments", "name": "release",
                                                       "public_key_pem": pem_of(p256_key)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["algorithm"] == "ecdsa_p256"
    assert SigningKey.objects.get().team == team


def test_another_teams_service_account_may_not_register_keys(pipeline, other_team, p256_key):
    response = pipeline.post("/api/v1/signing-keys/", {"team": "identity", "name": "x",
                                                       "public_key_pem": pem_of(p256_key)}, format="json")
    assert response.status_code == 403


def test_rsa_and_other_curves_are_refused(pipeline, team):
    from cryptography.hazmat.primitives.asymmetric import rsa

    for private in (rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP384R1())):
        response = pipeline.post("/api/v1/signing-keys/", {"team": "payments", "name": "x",
                                                           "public_key_pem": pem_of(private)}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "unsupported_key_type"


def test_the_artifact_and_gate_decision_lists_cost_a_fixed_number_of_queries(pipeline, make_artifact, environments,
                                                                             django_assert_max_num_queries):
    from apps.delivery.models import GateDecision

    for _ in range(6):
        artifact = make_artifact()
        GateDecision.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                                    artifact_ref=artifact.digest, decision="deny",
                                    reasons=[{"code": "not_promoted", "message": "x", "severity": "deny"}])
    with django_assert_max_num_queries(7):
        artifacts = pipeline.get("/api/v1/artifacts/?service=payments-api").json()
    assert artifacts["count"] == 6
    with django_assert_max_num_queries(7):
        decisions = pipeline.get("/api/v1/gates/decisions/?decision=deny").json()
    assert decisions["count"] == 6
    assert decisions["results"][0]["reasons"][0]["code"] == "not_promoted"


def test_an_artifact_reads_back_with_its_evidence(pipeline, make_artifact):
    from apps.delivery.services import evidence_attach

    artifact = make_artifact()
    evidence_attach(artifact=artifact, kind="log", data=b"ok\n", actor=artifact.created_by)
    data = pipeline.get(f"/api/v1/artifacts/{artifact.digest}/").json()
    assert data["version"] == artifact.version and data["evidence"][0]["kind"] == "log"
