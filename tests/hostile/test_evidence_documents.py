"""Hostile evidence documents (issue 17): each is refused with 400 naming its JSON path, and
nothing is stored — no Evidence row, no garbage summary."""

from __future__ import annotations

import copy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.delivery.models import Evidence
from tests.delivery.documents import cyclonedx, finding, provenance, sarif, spdx

pytestmark = pytest.mark.django_db


def _sarif(**run_overrides) -> dict:
    doc = sarif([finding("py.sqli")])
    doc["runs"][0].update(run_overrides)
    return doc


def _result(**overrides) -> dict:
    return _sarif(results=[{**finding("py.sqli"), **overrides}])


SARIF = [
    ({"version": "2.1.0", "runs": [{"tool": "x"}]}, "runs[0].tool"),
    ({"version": "2.1.0", "runs": [{}]}, "runs[0]"),
    ({"version": "2.1.0", "runs": [{"tool": {"driver": "semgrep"}}]}, "runs[0].tool.driver"),
    ({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}, "runs[0].tool.driver"),
    (_sarif(tool={"driver": {"name": "semgrep", "rules": [{"id": ["a", "b"]}]}}), "runs[0].tool.driver.rules[0].id"),
    (_result(message="a string"), "runs[0].results[0].message"),
    (_result(level=["error"]), "runs[0].results[0].level"),
    (_result(ruleId={"x": 1}), "runs[0].results[0].ruleId"),
    (_sarif(results={"not": "a list"}), "runs[0].results"),
]

CYCLONEDX = [
    ({**cyclonedx([("lib", None)]), "components": [{"type": "library", "name": "lib", "licenses": 5}]},
     "components[0].licenses"),
    (cyclonedx([("lib", "MIT")], [{"id": "CVE-1", "analysis": "x"}]), "vulnerabilities[0].analysis"),
    ({**cyclonedx([]), "components": [{"type": "library", "name": "lib",
                                         "licenses": [{"license": {"id": ["MIT"]}}]}]},
     "components[0].licenses[0].license.id"),
    ({**cyclonedx([]), "components": [{"type": "library", "name": ["lib"]}]}, "components[0].name"),
    (cyclonedx([("lib", "MIT")], [{"id": "CVE-1", "ratings": [{"severity": {"x": 1}}]}]),
     "vulnerabilities[0].ratings[0].severity"),
]


def _provenance(digest: str, mutate) -> dict:
    doc = copy.deepcopy(provenance(digest))
    mutate(doc)
    return doc


PROVENANCE = [
    (lambda d: d["subject"][0].update(digest="sha256:abc"), "subject[0].digest"),
    (lambda d: d["predicate"].update(runDetails="github"), "predicate.runDetails"),
    (lambda d: d["predicate"]["runDetails"].update(builder="github"), "predicate.runDetails.builder"),
]


@pytest.fixture
def post_evidence(pipeline, make_artifact):
    artifact = make_artifact()

    def post(kind, document=None, *, file=None):
        url = f"/api/v1/artifacts/{artifact.digest}/evidence/"
        if file is not None:
            return pipeline.post(url, {"kind": kind, "file": SimpleUploadedFile("report.xml", file)},
                                 format="multipart")
        return pipeline.post(url, {"kind": kind, "document": document}, format="json")

    post.artifact = artifact
    return post


def _assert_refused(response, path: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert path in error["fields"], error
    assert not Evidence.objects.exists()


@pytest.mark.parametrize("document, path", SARIF)
def test_malformed_sarif_is_refused_naming_the_path(post_evidence, document, path):
    _assert_refused(post_evidence("sarif", document), path)


@pytest.mark.parametrize("document, path", CYCLONEDX)
def test_malformed_cyclonedx_is_refused_naming_the_path(post_evidence, document, path):
    _assert_refused(post_evidence("cyclonedx", document), path)


def test_an_spdx_licence_that_is_a_list_is_refused(post_evidence):
    doc = spdx([("lib", "MIT")])
    doc["packages"][0]["licenseConcluded"] = ["MIT"]
    _assert_refused(post_evidence("spdx", doc), "packages[0].licenseConcluded")


@pytest.mark.parametrize("mutate, path", PROVENANCE)
def test_malformed_slsa_provenance_is_refused_naming_the_path(post_evidence, mutate, path):
    _assert_refused(post_evidence("slsa_provenance", _provenance(post_evidence.artifact.digest, mutate)), path)


@pytest.mark.parametrize("attribute, path", [('tests="1e400"', "testsuite[0].tests"),
                                             ('tests="3" time="inf"', "testsuite[0].time"),
                                             ('tests="3" time="nan"', "testsuite[0].time")])
def test_junit_numbers_that_overflow_or_are_infinite_are_refused(post_evidence, attribute, path):
    xml = f'<?xml version="1.0"?><testsuites><testsuite name="x" {attribute}></testsuite></testsuites>'.encode()
    _assert_refused(post_evidence("junit", file=xml), path)


def test_well_formed_documents_are_still_accepted(post_evidence):
    assert post_evidence("sarif", sarif([finding("py.sqli")])).status_code == 201
    assert post_evidence("cyclonedx", cyclonedx([("lib", "MIT")])).status_code == 201
    assert post_evidence("slsa_provenance", provenance(post_evidence.artifact.digest)).status_code == 201
    assert Evidence.objects.count() == 3
