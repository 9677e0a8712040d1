"""Evidence: each format parsed into its summary, malicious or oversized documents refused, and
nothing stored when a document is refused."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.delivery.models import Evidence

from . import documents as docs
from .conftest import digest_of, shared_fixture

pytestmark = pytest.mark.django_db


def url(artifact):
    return f"/api/v1/artifacts/{artifact.digest}/evidence/"


def upload(client, artifact, kind, data: bytes, name="report"):
    return client.post(url(artifact), {"kind": kind, "file": SimpleUploadedFile(name, data)}, format="multipart")


def post_json(client, artifact, kind, document):
    return client.post(url(artifact), {"kind": kind, "document": document}, format="json")


def test_junit_totals_failures_errors_and_skipped(pipeline, make_artifact):
    artifact = make_artifact()
    response = upload(pipeline, artifact, "junit", docs.junit_xml(tests=10, failures=2, errors=1, skipped=3), "junit.xml")
    assert response.status_code == 201, response.json()
    summary = response.json()["summary"]
    assert (summary["tests"], summary["failures"], summary["errors"], summary["skipped"], summary["passed"]) == (10, 2, 1, 3, 4)
    assert summary["failed_cases"][0] == "tests.test_pay.test_0"
    evidence = Evidence.objects.get()
    assert evidence.document.read() == docs.junit_xml(tests=10, failures=2, errors=1, skipped=3)
    assert evidence.created_by.username == "ci-bot"


@pytest.mark.parametrize("payload", [docs.XXE, docs.BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_malicious_xml_is_refused_and_nothing_is_stored(pipeline, make_artifact, payload, settings):
    artifact = make_artifact()
    response = upload(pipeline, artifact, "junit", payload, "evil.xml")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_xml"
    assert Evidence.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_xml_that_is_not_junit_is_refused_naming_the_problem(pipeline, make_artifact):
    response = upload(pipeline, make_artifact(), "junit", b"<html><body/></html>")
    assert response.status_code == 400
    assert "<html>" in response.json()["error"]["message"]


def test_broken_xml_is_a_400(pipeline, make_artifact):
    response = upload(pipeline, make_artifact(), "junit", b"<testsuite><testcase>")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_document"


def test_oversized_documents_are_refused_with_413(pipeline, make_artifact, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    artifact = make_artifact()
    response = upload(pipeline, artifact, "log", b"x" * 1001, "build.log")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "evidence_too_large"
    big = docs.cyclonedx([(f"lib{i}", "MIT") for i in range(100)])
    assert post_json(pipeline, artifact, "cyclonedx", big).status_code == 413
    assert Evidence.objects.count() == 0


def test_sarif_findings_by_level_with_suppressed_ones_apart(pipeline, make_artifact):
    document = docs.sarif(
        [docs.finding("R1", "error"), docs.finding("R2", "warning"), docs.finding("R3", "note"),
         docs.finding("CRIT", "warning"), docs.finding("R1", "error", suppressed=True)],
        rules=[docs.rule("CRIT", "9.8")])
    response = post_json(pipeline, make_artifact(), "sarif", document)
    assert response.status_code == 201, response.json()
    summary = response.json()["summary"]
    assert summary["by_level"] == {"error": 1, "warning": 2, "note": 1, "none": 0}
    assert summary["by_severity"]["critical"] == 1
    assert summary["by_severity"]["high"] == 1
    assert summary["suppressed"]["count"] == 1


def test_sarif_with_another_version_is_refused(pipeline, make_artifact):
    response = post_json(pipeline, make_artifact(), "sarif", {"version": "2.0.0", "runs": []})
    assert response.status_code == 400
    assert "2.1.0" in response.json()["error"]["message"]


def test_the_real_sarif_examples_parse(pipeline, make_artifact):
    artifact = make_artifact()
    for name in ("simple-example.sarif", "bad-eval.sarif"):
        data = shared_fixture(f"sarif/{name}").read_bytes()
        response = upload(pipeline, artifact, "sarif", data, name)
        assert response.status_code == 201, response.json()
        assert response.json()["summary"]["results"] >= 1


def test_cyclonedx_components_licences_and_vulnerabilities(pipeline, make_artifact):
    document = docs.cyclonedx(
        [("a", "MIT"), ("b", "Apache-2.0"), ("c", "MIT OR GPL-2.0-only"), ("d", None)],
        vulnerabilities=[{"id": "CVE-1", "ratings": [{"severity": "critical"}]},
                         {"id": "CVE-2", "ratings": [{"severity": "high"}], "analysis": {"state": "not_affected"}}])
    response = post_json(pipeline, make_artifact(), "cyclonedx", document)
    assert response.status_code == 201
    summary = response.json()["summary"]
    assert summary["components"] == 4
    assert summary["licenses"]["MIT"] == 2
    assert summary["unknown"] == 1
    assert summary["by_severity"]["critical"] == 1
    assert summary["suppressed"]["count"] == 1


def test_the_real_cyclonedx_sbom_parses(pipeline, make_artifact):
    data = shared_fixture("cyclonedx/laravel-7.12.0.bom.1.4.json").read_bytes()
    response = upload(pipeline, make_artifact(), "cyclonedx", data, "bom.json")
    assert response.status_code == 201
    summary = response.json()["summary"]
    assert summary["components"] == 62
    assert summary["licenses"]["MIT"] > 10


def test_a_json_document_of_the_wrong_kind_is_refused(pipeline, make_artifact):
    response = post_json(pipeline, make_artifact(), "cyclonedx", docs.spdx([("a", "MIT")]))
    assert response.status_code == 400
    assert "CycloneDX" in response.json()["error"]["message"]
    response = upload(pipeline, make_artifact(), "spdx", b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_document"


def test_spdx_packages_and_licences(pipeline, make_artifact):
    response = post_json(pipeline, make_artifact(), "spdx",
                         docs.spdx([("a", "MIT"), ("b", "NOASSERTION"), ("c", "AGPL-3.0-only")]))
    assert response.status_code == 201
    summary = response.json()["summary"]
    assert summary["components"] == 3
    assert summary["unknown"] == 1
    assert summary["licenses"] == {"MIT": 1, "AGPL-3.0-only": 1}


def test_spdx_22_is_refused(pipeline, make_artifact):
    document = docs.spdx([("a", "MIT")]) | {"spdxVersion": "SPDX-2.2"}
    assert post_json(pipeline, make_artifact(), "spdx", document).status_code == 400


def test_provenance_for_this_digest_is_accepted(pipeline, make_artifact):
    artifact = make_artifact()
    response = post_json(pipeline, artifact, "slsa_provenance", docs.provenance(artifact.digest))
    assert response.status_code == 201, response.json()
    summary = response.json()["summary"]
    assert summary["builder_id"] == "https://github.com/actions/runner/github-hosted"
    assert summary["source"] == "https://github.com/acme/payments-api"


def test_provenance_in_a_dsse_envelope_is_unwrapped(pipeline, make_artifact):
    import base64

    artifact = make_artifact()
    envelope = {"payloadType": "application/vnd.in-toto+json", "signatures": [],
                "payload": base64.b64encode(json.dumps(docs.provenance(artifact.digest)).encode()).decode()}
    assert post_json(pipeline, artifact, "slsa_provenance", envelope).status_code == 201


def test_provenance_for_another_digest_is_refused(pipeline, make_artifact):
    artifact = make_artifact()
    response = post_json(pipeline, artifact, "slsa_provenance", docs.provenance(digest_of("someone else")))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "provenance_subject_mismatch"
    assert Evidence.objects.count() == 0


def test_logs_are_stored_as_files(pipeline, make_artifact):
    response = upload(pipeline, make_artifact(), "log", b"step 1\nstep 2\n", "deploy.log")
    assert response.status_code == 201
    assert response.json()["summary"] == {"bytes": 14, "lines": 2}
    assert Evidence.objects.get().filename == "deploy.log"


def test_evidence_for_an_unknown_digest_is_404(pipeline, service):
    response = pipeline.post(f"/api/v1/artifacts/{digest_of('nope')}/evidence/", {"kind": "log", "document": "x"},
                             format="json")
    assert response.status_code == 404
