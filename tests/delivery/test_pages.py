"""Delivery pages and the sections other pages show: content, and a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery import services
from apps.delivery.models import Deployment, DeploymentCommit, GateDecision

from . import documents as docs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_month(clock):
    """The reconciliation reads "this month" and `history` dates its deployments up to five
    days back: from the 1st to the 5th of a month some would fall into the month before."""
    clock("2026-10-20 12:00")


@pytest.fixture
def history(make_artifact, make_change, environments, deployer):
    """Several artifacts with evidence, gate decisions and deployments, some unauthorised."""
    now = timezone.now()
    change = make_change(state="completed", approved_at=now - timedelta(days=10),
                         planned_start=now - timedelta(days=10), planned_end=now + timedelta(days=1))
    rows = []
    for i in range(6):
        artifact = make_artifact()
        services.evidence_attach(artifact=artifact, kind="junit", data=docs.junit_xml(tests=4, failures=i % 2),
                                 actor=deployer)
        services.evidence_attach(artifact=artifact, kind="cyclonedx",
                                 data=docs.as_bytes(docs.cyclonedx([("a", "MIT"), ("b", "AGPL-3.0-only")])),
                                 actor=deployer)
        services.evidence_attach(artifact=artifact, kind="log", data=b"deploying\n", filename="deploy.log",
                                 actor=deployer)
        for env in ("dev", "staging", "prod"):
            gate = GateDecision.objects.create(service=artifact.service, environment=environments[env],
                                               artifact=artifact, artifact_ref=artifact.digest, change=change,
                                               decision="allow" if i % 3 else "deny",
                                               reasons=[] if i % 3 else [{"code": "tests_failed", "message": "1 failed",
                                                                          "severity": "deny"}])
            d = Deployment.objects.create(service=artifact.service, environment=environments[env], artifact=artifact,
                                          version=artifact.version, change=change, status="succeeded",
                                          started_at=now - timedelta(days=i, hours=2), finished_at=now - timedelta(days=i),
                                          gate_decision=gate if i % 3 else None,
                                          is_unauthorized=env == "prod" and not i % 3)
            DeploymentCommit.objects.bulk_create([DeploymentCommit(deployment=d, sha=f"{i}{j:039x}",
                                                                   authored_at=now - timedelta(days=i + 1))
                                                  for j in range(3)])
            rows.append(d)
    return {"change": change, "deployments": rows}


def test_the_deployment_list_costs_a_fixed_number_of_queries(client, requester, history, django_assert_max_num_queries):
    client.force_login(requester)
    with django_assert_max_num_queries(12):
        response = client.get("/delivery/")
    assert response.status_code == 200
    assert b"Unauthorised" in response.content


def test_the_unauthorised_filter(client, requester, history):
    client.force_login(requester)
    response = client.get("/delivery/?unauthorized=1")
    assert response.context["page_obj"].paginator.count == 2


def test_the_artifact_page_shows_evidence_licences_and_signature(client, requester, history,
                                                                  django_assert_max_num_queries):
    client.force_login(requester)
    artifact = history["deployments"][-1].artifact
    with django_assert_max_num_queries(14):
        response = client.get(f"/delivery/artifacts/{artifact.pk}/")
    body = response.content.decode()
    assert "AGPL-3.0-only" in body and "Signature unsigned" in body and "JUnit test results" in body


def test_the_gate_decision_log_filters_by_reason(client, requester, history, django_assert_max_num_queries):
    client.force_login(requester)
    with django_assert_max_num_queries(12):
        response = client.get("/delivery/gate-decisions/?reason=tests_failed")
    assert response.context["page_obj"].paginator.count == 6
    assert b"tests_failed" in response.content


def test_the_deployment_page_lists_its_commits(client, requester, history):
    client.force_login(requester)
    deployment = history["deployments"][0]
    response = client.get(f"/delivery/deployments/{deployment.pk}/")
    assert response.status_code == 200
    assert b"Commits shipped (3)" in response.content


def test_reconciliation_lists_exceptions_first_and_exports_csv(client, auditor, history):
    client.force_login(auditor)
    month = f"{timezone.now():%Y-%m}"
    response = client.get(f"/delivery/reconciliation/?month={month}")
    rows = response.context["rows"]
    assert rows and rows[0].exceptions  # exceptions first
    assert "unauthorized" in rows[0].exceptions
    flags = [bool(r.exceptions) for r in rows]
    assert flags == sorted(flags, reverse=True)
    csv_response = client.get(f"/delivery/reconciliation/?month={month}&format=csv")
    lines = csv_response.content.decode().strip().splitlines()
    assert lines[0].startswith("deployment_id,service") and len(lines) == len(rows) + 1
    assert "unauthorized" in lines[1]


def test_reconciliation_flags_a_deployment_before_its_change_was_approved(client, auditor, history):
    change = history["change"]
    change.approved_at = timezone.now()
    change.save()
    client.force_login(auditor)
    rows = client.get(f"/delivery/reconciliation/?month={timezone.now():%Y-%m}").context["rows"]
    assert all("change_not_approved" in r.exceptions for r in rows)


def test_the_service_page_shows_environments_side_by_side(client, requester, history, service,
                                                           django_assert_max_num_queries):
    client.force_login(requester)
    with django_assert_max_num_queries(30):
        response = client.get(f"/services/{service.slug}/")
    body = response.content.decode()
    assert "Environments" in body and "Recent deployments" in body and "Production" in body
    with django_assert_max_num_queries(14):
        assert client.get(f"/delivery/services/{service.slug}/").status_code == 200


def test_the_change_page_sections_show_collected_evidence(rf, requester, history, django_assert_max_num_queries):
    from django.template.loader import render_to_string

    from apps.delivery.change_sections import sections

    request = rf.get("/")
    request.user = requester
    with django_assert_max_num_queries(6):  # five, and one to find no pull requests
        found = sections(request, history["change"])
    assert [s["order"] for s in found] == [60, 61, 62]
    html = "".join(render_to_string(s["template"], {"data": s["data"], "change": history["change"]}) for s in found)
    assert "AGPL-3.0-only" in html and "tests_failed" in html and "deploy.log" in html


def test_the_change_page_says_when_there_is_nothing_yet(rf, requester, make_change):
    from apps.delivery.change_sections import sections

    request = rf.get("/")
    request.user = requester
    assert sections(request, make_change())[0]["template"] == "delivery/sections/change_empty.html"


def test_the_dashboard_panels(client, release_manager, history, django_assert_max_num_queries):
    """Unauthorised deployments are the release manager's panel (the home page is per role)."""
    from apps.delivery.dashboard import panels

    client.force_login(release_manager)
    response = client.get("/")
    assert b"Unauthorised production deployments" in response.content
    request = response.wsgi_request
    with django_assert_max_num_queries(3):
        found = panels(request)
    assert found[0]["data"]["count"] == 2
