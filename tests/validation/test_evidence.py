"""The samples (as digests and summaries), the judgement inputs and the verdict are kept with
the deployment and travel into evidence packs and the rollback incident's preserved state."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from apps.validation import services
from apps.validation.evidence import canonical, snapshots_for
from tests.audit.conftest import CONTROL_JULY, at
from tests.audit.packs import generate, pack_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit_change_types(db):
    from apps.change_types.models import ChangeType

    normal, _ = ChangeType.objects.get_or_create(slug="normal", defaults={"name": "Normal"})
    return {"normal": normal}


@pytest.fixture
def approved_change(audit_change_types, service, environments, requester):
    """An approved production change recorded like the audit tests' data (with its audit event)."""
    from apps.audit.services import audit_event_record
    from apps.changes.models import ChangeRequest

    change = ChangeRequest(title="Rotate keys", change_type=audit_change_types["normal"], service=service,
                           environment=environments["prod"], requester=requester, state="completed",
                           approved_at=at(1, 9))
    change.save()
    change.number = ChangeRequest.format_number(change.pk)
    change.save(update_fields=["number"])
    audit_event_record(action="change.created", target=change, actor=requester, details={"title": change.title})
    return change


@pytest.fixture
def record_deployment(service, environments, service_account):
    from apps.audit.services import audit_event_record
    from apps.delivery.models import Deployment

    def make(*, change=None, started_at):
        dep = Deployment.objects.create(service=service, environment=environments["prod"], change=change,
                                        status="succeeded", started_at=started_at, version="1.0.0",
                                        finished_at=started_at + timedelta(minutes=10), created_by=service_account)
        audit_event_record(action="deployment.recorded", target=dep, actor=service_account, details={})
        return dep

    return make

POLICY = {"validation_minutes": 60, "auto_rollback": True, "smoke_required_within_minutes": None,
          "checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5, "for_minutes": 5}],
          "canary": {"metrics": [], "pass_score": 95, "marginal_score": 75}}


@pytest.fixture
def rolled_back(clock, approved_change, record_deployment, service, environments, service_account, release_manager):
    """A production deployment of an approved change in July whose error rate held at 7 % for
    eight minutes under a policy with automatic rollback: judged through the services."""
    clock("2026-07-02 13:00")
    change = approved_change
    deployment = record_deployment(change=change, started_at=at(2))
    services.health_policy_set(service=service, environment=environments["prod"], data=POLICY, actor=release_manager)
    t0 = at(2).timestamp()
    samples = [[t0 + 10 * i, 7.0 if 12 <= i < 60 else 1.0] for i in range(72)]
    services.metric_samples_record(deployment=deployment, metric="error_rate_pct", cohort="current", samples=samples,
                                   actor=service_account)
    deployment.refresh_from_db()
    return change, deployment, samples


def test_the_deployment_keeps_its_verdict_inputs_and_sample_digest(rolled_back):
    _, deployment, samples = rolled_back
    evidence = snapshots_for([deployment.pk])[deployment.pk]
    assert evidence["verdict"]["status"] == "failed" and evidence["verdict"]["action"] == "rollback"
    assert [r["code"] for r in evidence["verdict"]["reasons"]] == ["threshold_breached"]
    assert evidence["judgement_inputs"]["policy"]["checks"][0]["threshold"] == 5
    digest = evidence["samples"]["error_rate_pct/current"]
    assert digest["count"] == 72 and digest["max"] == 7.0 and digest["min"] == 1.0
    assert digest["sha256"] == hashlib.sha256(canonical([[float(t), float(v)] for t, v in samples])).hexdigest()
    assert evidence["rollback_decision"]["trigger"] == "automatic" and evidence["rollback_decision"]["incident"]


def test_an_evidence_pack_contains_the_verdict(auditor, rolled_back, django_capture_on_commit_callbacks):
    change, deployment, _ = rolled_back
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        validation = json.loads(zf.read(f"changes/{change.number}/validation.json"))
        listed = {f["path"] for f in json.loads(zf.read("manifest.json"))["files"]}
    assert f"changes/{change.number}/validation.json" in listed  # hashed and signed like the rest
    [entry] = validation
    assert entry["deployment"] == deployment.pk
    assert entry["verdict"]["status"] == "failed"
    assert entry["verdict"]["reasons"][0]["code"] == "threshold_breached"
    assert entry["samples"]["error_rate_pct/current"]["count"] == 72
    assert entry["rollback_decision"]["incident"] is not None


def test_a_deployment_without_change_carries_its_validation_in_its_folder(
        auditor, clock, record_deployment, service_account, django_capture_on_commit_callbacks):
    clock("2026-07-08 13:00")
    deployment = record_deployment(change=None, started_at=at(8))
    t0 = at(8).timestamp()
    services.metric_samples_record(deployment=deployment, metric="error_rate_pct", cohort="current",
                                   samples=[[t0 + 10 * i, 0.5] for i in range(30)], actor=service_account)
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        entry = json.loads(zf.read(f"deployments/deployment-{deployment.pk}/validation.json"))
    assert entry["verdict"]["status"] in ("pending", "passed") and entry["samples"]["error_rate_pct/current"]["count"] == 30


def test_the_rollback_incident_preserves_the_verdict(rolled_back):
    from apps.incidents.models import IncidentAttachment

    _, deployment, _ = rolled_back
    incident = deployment.rollback_decision.incident
    assert incident.caused_by_deployment_id == deployment.pk
    [snapshot] = IncidentAttachment.objects.filter(incident=incident, kind="metric_snapshot")
    with snapshot.file.open("rb") as handle:
        preserved = json.loads(handle.read())
    assert preserved["deployment"] == deployment.pk
    assert preserved["verdict"]["status"] == "failed"
    assert preserved["verdict"]["reasons"][0]["code"] == "threshold_breached"
    assert preserved["samples"]["error_rate_pct/current"]["count"] == 72


@pytest.mark.parametrize("deployments", [2, 12])
def test_reading_the_evidence_costs_a_fixed_number_of_queries(deployments, service, environments,
                                                              django_assert_max_num_queries):
    from apps.delivery.models import Deployment
    from apps.validation.models import MetricSampleBatch, Verdict

    ids = []
    for n in range(deployments):
        dep = Deployment.objects.create(service=service, environment=environments["prod"], status="succeeded",
                                        started_at=datetime(2026, 7, 3, tzinfo=UTC) + timedelta(hours=n))
        Verdict.objects.create(deployment=dep, status="passed", action="continue")
        for metric in ("a", "b"):
            MetricSampleBatch.objects.create(deployment=dep, metric=metric, cohort="current", samples=[[1, 2], [3, 4]],
                                             count=2, first_ts=1, last_ts=3)
        ids.append(dep.pk)
    with django_assert_max_num_queries(7):
        evidence = snapshots_for(ids)
    assert sorted(evidence) == ids and all(e["verdict"]["status"] == "passed" for e in evidence.values())
