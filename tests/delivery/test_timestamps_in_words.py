"""Delivery pages give their timestamps in words and the viewer's timezone ("3 Dec 2026, 09:00
UTC"), each in a <time> element carrying the ISO instant, never as "2026-12-03 09:00"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.delivery.models import Deployment, DeploymentCommit, GateDecision

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 12, 3, 9, 0, 5, tzinfo=UTC)
FINISHED = datetime(2026, 12, 3, 9, 12, 40, tzinfo=UTC)
AUTHORED = datetime(2026, 12, 2, 17, 24, tzinfo=UTC)


@pytest.fixture
def deployment(clock, make_artifact, make_change, environments):
    clock("2026-12-03 08:30")
    artifact = make_artifact()
    change = make_change(state="completed", approved_at=datetime(2026, 12, 1, 14, 5, tzinfo=UTC))
    gate = GateDecision.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                                       artifact_ref=artifact.digest, change=change, decision="allow", reasons=[])
    d = Deployment.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                                  version=artifact.version, change=change, status="succeeded", started_at=STARTED,
                                  finished_at=FINISHED, gate_decision=gate)
    DeploymentCommit.objects.create(deployment=d, sha="c" * 40, authored_at=AUTHORED)
    return d


def test_the_deployment_page_gives_its_times_in_words(client, requester, deployment):
    client.force_login(requester)
    body = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert '<time datetime="2026-12-03T09:00:05+00:00">3 Dec 2026, 09:00 UTC</time>' in body
    assert '<time datetime="2026-12-03T09:12:40+00:00">3 Dec 2026, 09:12 UTC</time>' in body
    assert '<time datetime="2026-12-02T17:24:00+00:00">2 Dec 2026, 17:24 UTC</time>' in body
    assert "2026-12-03 09:00" not in body and "2026-12-02 17:24" not in body


def test_the_deployment_page_reads_in_the_viewers_timezone(client, requester, deployment, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(requester)
    body = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert '<time datetime="2026-12-03T09:00:05+00:00">3 Dec 2026, 10:00 CET</time>' in body
    assert "UTC</time>" not in body


def test_the_artifact_and_gate_decision_pages_give_their_times_in_words(client, requester, deployment):
    client.force_login(requester)
    artifact_page = client.get(f"/delivery/artifacts/{deployment.artifact_id}/").content.decode()
    gate_log = client.get("/delivery/gate-decisions/").content.decode()
    for body in (artifact_page, gate_log):
        assert '<time datetime="2026-12-03T08:30' in body and "3 Dec 2026, 08:30 UTC</time>" in body
        assert "2026-12-03 08:30" not in body


def test_reconciliation_gives_start_and_approval_in_words(client, auditor, deployment):
    client.force_login(auditor)
    body = client.get("/delivery/reconciliation/?month=2026-12").content.decode()
    assert "3 Dec 2026, 09:00 UTC</time>" in body
    assert '<time datetime="2026-12-01T14:05:00+00:00">1 Dec 2026, 14:05 UTC</time>' in body
    assert "2026-12-03 09:00" not in body and "2026-12-01 14:05" not in body


def test_the_reconciliation_page_names_its_month_in_words(client, auditor, clock):
    clock("2026-12-03 08:30")
    client.force_login(auditor)
    body = client.get("/delivery/reconciliation/?month=2026-11").content.decode()
    assert "<h1>Production reconciliation — November 2026</h1>" in body
    assert "No production deployments in November 2026." in body
    # The month picker and the CSV link keep the machine form.
    assert 'value="2026-11"' in body and "?month=2026-11&amp;format=csv" in body
