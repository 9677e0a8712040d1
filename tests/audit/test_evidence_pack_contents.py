"""What an evidence pack holds: the SOX population with exceptions first, per change folders,
the signature, the audit checkpoint; and that it is reproducible."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from releaseportal import verify

from .conftest import CONTROL_JULY
from .packs import generate, manifest, pack_path, published_key, read_csv

pytestmark = pytest.mark.django_db


def test_a_control_pack_lists_every_production_deployment_of_the_period(auditor, quarter_data,
                                                                        django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        rows = read_csv(zf, "listings/deployments.csv")
    ids = {int(r["deployment_id"]) for r in rows}
    expected = {quarter_data[k].pk for k in ("good_dep", "late_dep", "unapproved_dep", "emergency_dep", "orphan_dep")}
    assert ids == expected  # staging and September deployments are not in the SOX population
    assert pack.counts["production_deployments"] == 5


def test_an_injected_deployment_without_change_is_listed_first_among_the_exceptions(
        auditor, quarter_data, django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        rows = read_csv(zf, "listings/deployments.csv")
        exceptions = {int(r["deployment_id"]): r["exceptions"] for r in read_csv(zf, "listings/exceptions.csv")}
    assert exceptions == {
        quarter_data["orphan_dep"].pk: "no_change",
        quarter_data["late_dep"].pk: "approved_after_deployment",
        quarter_data["unapproved_dep"].pk: "change_not_approved",
        quarter_data["emergency_dep"].pk: "emergency_without_retrospective_approval",
    }
    results = [r["result"] for r in rows]
    assert results == ["exception"] * 4 + ["ok"]
    assert rows[-1]["deployment_id"] == str(quarter_data["good_dep"].pk)


def test_each_change_has_a_folder_with_its_history_and_audit_events(auditor, quarter_data,
                                                                    django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    good = quarter_data["good"]
    folder = f"changes/{good.number}"
    with zipfile.ZipFile(pack_path(pack)) as zf:
        names = set(zf.namelist())
        for part in ("change.json", "approvals.json", "gate_decisions.json", "evidence_documents.json",
                     "deployments.json", "history.json", "audit_events.jsonl"):
            assert f"{folder}/{part}" in names
        change = json.loads(zf.read(f"{folder}/change.json"))
        events = [json.loads(line) for line in zf.read(f"{folder}/audit_events.jsonl").splitlines()]
        deployments = json.loads(zf.read(f"{folder}/deployments.json"))
        history = json.loads(zf.read(f"{folder}/history.json"))
        assert f"deployments/deployment-{quarter_data['orphan_dep'].pk}/deployment.json" in names
        assert {"summary.pdf", "verify.py", "public_key.pem", "manifest.sig", "audit/checkpoint.json"} <= names
        assert zf.read("summary.pdf").startswith(b"%PDF")
    assert change["approved_at"] == "2026-07-01T09:00:00.000000Z"
    assert {e["action"] for e in events} >= {"change.created", "change.approved", "deployment.recorded"}
    assert {d["id"] for d in deployments} >= {quarter_data["good_dep"].pk, quarter_data["staging_dep"].pk}
    assert history and history[0]["history_type"] == "+"


def test_the_manifest_lists_every_file_and_the_checkpoint_is_the_last_covered_event(
        auditor, quarter_data, django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        data = manifest(zf)
        listed = {f["path"] for f in data["files"]}
        assert listed == set(zf.namelist()) - {"manifest.json", "manifest.sig"}
    checkpoint = data["audit"]["checkpoint"]
    last_covered = AuditEvent.objects.filter(action="deployment.recorded",
                                             object_id=str(quarter_data["outside_dep"].pk)).get()
    assert checkpoint["head_seq"] == last_covered.seq and checkpoint["head_hash"] == last_covered.hash
    assert data["generation"]["requested_by"] == "audra"
    assert data["signing_key"]["development"] is True and "DEVELOPMENT" in data["parameters"]["WARNING"]


def test_the_verify_py_in_the_pack_is_the_module_and_agrees_with_the_chain(auditor, quarter_data,
                                                                           django_capture_on_commit_callbacks):
    from apps.audit import chain

    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        assert zf.read("verify.py") == Path(verify.__file__).read_bytes()
    assert verify.HASHED_FIELDS == chain.HASHED_FIELDS
    payload = {"seq": 1, "details": {"b": [1, "é"], "a": None}}
    assert verify.link_hash("0" * 64, payload) == chain.link_hash("0" * 64, payload)
    assert verify.verify(str(pack_path(pack)), [published_key(pack)]).ok


def test_two_packs_over_the_same_data_list_the_same_files_with_the_same_hashes(
        auditor, quarter_data, django_capture_on_commit_callbacks):
    first = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    second = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    with zipfile.ZipFile(pack_path(first)) as a, zipfile.ZipFile(pack_path(second)) as b:
        ma, mb = manifest(a), manifest(b)
    assert ma["files"] == mb["files"]
    assert ma["audit"] == mb["audit"] and ma["counts"] == mb["counts"] and ma["parameters"] == mb["parameters"]
    assert ma["generation"] != mb["generation"]  # only the generation record differs
    assert first.sha256 != second.sha256


def test_new_data_changes_the_pack(auditor, quarter_data, make_deployment, django_capture_on_commit_callbacks):
    from .conftest import at

    first = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    make_deployment(change=None, started_at=at(20))
    second = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    assert second.counts["production_deployments"] == first.counts["production_deployments"] + 1
