"""POST /api/v1/deployments/{id}/checks/: smoke and synthetic results as JUnit XML (delivery's
safe parser) or JSON; stored per test case, audited; the verdict follows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.models import AuditEvent
from apps.validation.models import CheckResult, CheckRun

pytestmark = pytest.mark.django_db

JUNIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="smoke" tests="3" failures="1" time="1.5">
  <testcase classname="smoke" name="login" time="0.2"/>
  <testcase classname="smoke" name="checkout" time="1.1"><failure message="HTTP 502">boom</failure></testcase>
  <testcase classname="smoke" name="refund" time="0"><skipped/></testcase>
</testsuite></testsuites>"""

XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<testsuite><testcase name="&e;"/></testsuite>"""


def _url(deployment):
    return f"/api/v1/deployments/{deployment.pk}/checks/"


def test_junit_results_are_stored_per_case(deployment, pipeline):
    response = pipeline.post(_url(deployment), {"kind": "smoke", "file": SimpleUploadedFile("smoke.xml", JUNIT)},
                             format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["source"], body["total"], body["passed"], body["failed"], body["skipped"]) == (
        "smoke", "junit", 3, 1, 1, 1)
    assert body["verdict"]["status"] == "failed"
    assert [r["code"] for r in body["verdict"]["reasons"]] == ["smoke_failed"]
    results = {r.name: (r.status, r.message) for r in CheckResult.objects.all()}
    assert results == {"smoke.login": ("passed", ""), "smoke.checkout": ("failed", "HTTP 502"),
                       "smoke.refund": ("skipped", "")}
    assert AuditEvent.objects.filter(action="validation.checks_recorded").count() == 1


def test_json_synthetic_results(deployment, pipeline):
    response = pipeline.post(_url(deployment), {"kind": "synthetic", "results": [
        {"name": "buy a book", "status": "passed", "duration_ms": 812}]}, format="json")
    assert response.status_code == 201, response.content
    run = CheckRun.objects.get()
    assert (run.kind, run.source, run.total, run.passed) == ("synthetic", "json", 1, 1)
    assert run.results.get().duration_ms == 812
    assert response.json()["verdict"]["status"] == "pending"


def test_an_unsafe_junit_document_is_refused(deployment, pipeline):
    response = pipeline.post(_url(deployment), {"kind": "smoke", "file": SimpleUploadedFile("x.xml", XXE)},
                             format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_xml"
    assert not CheckRun.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"kind": "load", "results": [{"name": "a", "status": "passed"}]}, "kind"),
    ({"results": [{"name": "a", "status": "passed"}]}, "kind"),
    ({"kind": "smoke"}, "results"),
    ({"kind": "smoke", "results": []}, "results"),
    ({"kind": "smoke", "results": [{"status": "passed"}]}, "results[0].name"),
    ({"kind": "smoke", "results": [{"name": "a", "status": "green"}]}, "results[0].status"),
    ({"kind": "smoke", "results": [{"name": "a", "status": "passed", "duration_ms": -1}]}, "results[0].duration_ms"),
])
def test_bad_results_are_refused_naming_the_field(deployment, pipeline, payload, field):
    response = pipeline.post(_url(deployment), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not CheckRun.objects.exists()


def test_a_multipart_post_without_a_file(deployment, pipeline):
    response = pipeline.post(_url(deployment), {"kind": "smoke"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_an_outsider_and_another_team_post_nothing(deployment, api_client_for, outsider, release_manager):
    payload = {"kind": "smoke", "results": [{"name": "a", "status": "passed"}]}
    assert api_client_for(outsider).post(_url(deployment), payload, format="json").status_code in (403, 404)
    assert api_client_for(release_manager).post(_url(deployment), payload, format="json").status_code == 403
    assert not CheckRun.objects.exists()


def test_a_report_too_large_is_413(deployment, pipeline, settings):
    settings.VALIDATION_MAX_BODY_BYTES = 300
    response = pipeline.post(_url(deployment), {"kind": "smoke", "file": SimpleUploadedFile("smoke.xml", JUNIT)},
                             format="multipart")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert not CheckRun.objects.exists()
