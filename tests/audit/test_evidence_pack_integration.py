"""The SOX pack reads the approvals, emergency overrides, gate decisions and evidence documents
of the changes and delivery apps."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.core.files.base import ContentFile

from releaseportal import verify

from .conftest import CONTROL_JULY, at
from .packs import generate, pack_path, published_key, read_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def stage(change_types):
    from apps.change_types.models import ApprovalStage

    return ApprovalStage.objects.filter(change_type=change_types["normal"]).order_by("order").first() or \
        ApprovalStage.objects.create(change_type=change_types["normal"], order=1, name="Peer review",
                                     approver_group="approver")


def approve(change, who, stage, when, decision="approve"):
    from apps.changes.models import Approval

    return Approval.objects.create(change=change, stage=stage, stage_name=stage.name, approver=who, decision=decision,
                                   content_hash="0" * 64, decided_at=when)


def test_a_change_approved_by_its_own_requester_is_an_exception(make_change, make_deployment, requester, approver,
                                                                 stage, auditor, django_capture_on_commit_callbacks):
    fine = make_change(approved_at=at(1, 9))
    approve(fine, approver, stage, at(1, 9))
    selfish = make_change(approved_at=at(1, 9))
    approve(selfish, requester, stage, at(1, 9))
    fine_dep = make_deployment(change=fine, started_at=at(2))
    selfish_dep = make_deployment(change=selfish, started_at=at(3))
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        exceptions = {int(r["deployment_id"]): r["exceptions"] for r in read_csv(zf, "listings/exceptions.csv")}
        approvals = json.loads(zf.read(f"changes/{fine.number}/approvals.json"))
    assert exceptions == {selfish_dep.pk: "self_approved"}
    assert fine_dep.pk not in exceptions
    assert approvals[0]["approver_id"] == approver.pk and approvals[0]["decided_at"] == "2026-07-01T09:00:00.000000Z"


def test_an_emergency_change_passes_once_retrospectively_approved(make_change, make_deployment, release_manager,
                                                                  auditor, django_capture_on_commit_callbacks):
    from apps.changes.models import EmergencyOverride

    retro = make_change(kind="emergency", approved_at=None)
    EmergencyOverride.objects.create(change=retro, authorised_by=release_manager, reason="outage",
                                     authorised_at=at(4), expires_at=at(5), retro_approved_at=at(6))
    missing = make_change(kind="emergency", approved_at=None)
    EmergencyOverride.objects.create(change=missing, authorised_by=release_manager, reason="outage",
                                     authorised_at=at(4), expires_at=at(5))
    make_deployment(change=retro, started_at=at(4, 13))
    missing_dep = make_deployment(change=missing, started_at=at(4, 14))
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        exceptions = {int(r["deployment_id"]): r["exceptions"] for r in read_csv(zf, "listings/exceptions.csv")}
        overrides = json.loads(zf.read(f"changes/{retro.number}/emergency_overrides.json"))
    assert exceptions == {missing_dep.pk: "emergency_without_retrospective_approval"}
    assert overrides[0]["retro_approved_at"] == "2026-07-06T12:00:00.000000Z"


def test_gate_decisions_and_evidence_documents_are_in_the_change_folder(
        make_change, make_deployment, service, environments, service_account, auditor, settings,
        django_capture_on_commit_callbacks):
    from apps.delivery.models import Artifact, Evidence, GateDecision

    change = make_change(approved_at=at(1, 9))
    artifact = Artifact.objects.create(service=service, version="2.0.0", digest="sha256:" + "a" * 64, format="oci_image")
    evidence = Evidence(artifact=artifact, kind="junit", summary={"tests": 10, "failures": 0}, filename="junit.xml",
                        sha256="b" * 64, size=12)
    evidence.document.save("junit.xml", ContentFile(b"<testsuite/>"), save=False)
    evidence.save()
    gate = GateDecision.objects.create(service=service, environment=environments["prod"], artifact=artifact,
                                       change=change, decision="allow", reasons=[], requested_by=service_account,
                                       created_at=at(2, 11))
    make_deployment(change=change, started_at=at(2), artifact=artifact, gate_decision=gate)
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    folder = f"changes/{change.number}"
    with zipfile.ZipFile(pack_path(pack)) as zf:
        gates = json.loads(zf.read(f"{folder}/gate_decisions.json"))
        docs = json.loads(zf.read(f"{folder}/evidence_documents.json"))
        original = zf.read(f"{folder}/evidence/{evidence.pk}-junit.xml")
    assert gates[0]["decision"] == "allow" and gates[0]["id"] == gate.pk
    assert docs[0]["summary"] == {"failures": 0, "tests": 10}
    assert original == b"<testsuite/>"
    assert verify.verify(str(pack_path(pack)), [published_key(pack)]).ok


def test_a_change_pack_and_a_release_pack(make_change, make_deployment, auditor, django_capture_on_commit_callbacks):
    change = make_change(approved_at=at(1, 9))
    make_deployment(change=change, started_at=at(2), version="3.1.0")
    make_deployment(change=change, started_at=at(1, 10), env="staging", version="3.1.0")
    by_change = generate(auditor, scope="change", capture=django_capture_on_commit_callbacks, change=change.number)
    release = generate(auditor, scope="release", capture=django_capture_on_commit_callbacks,
                       service="payments-api", version="3.1.0")
    period = generate(auditor, scope="service_period", capture=django_capture_on_commit_callbacks,
                      service="payments-api", period_start="2026-07-01", period_end="2026-07-31")
    for pack in (by_change, release, period):
        assert pack.counts["deployments"] == 2 and pack.counts["changes"] == 1
        assert verify.verify(str(pack_path(pack)), [published_key(pack)]).ok
    assert by_change.title == f"Change {change.number}"

