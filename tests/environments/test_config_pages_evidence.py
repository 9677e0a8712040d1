"""Configuration drift in evidence packs: the findings open at some time in a pack's period (of the
service, or in production for a control pack) and their resolutions, with their audit events;
a change pack lists the findings its change accepted. No secret reaches a pack."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.environments.config_services import baseline_propose, drift_resolve, observation_record
from apps.environments.models import DriftFinding
from tests.audit.packs import generate, manifest, pack_path, read_csv

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import SECRET, setting

pytestmark = pytest.mark.django_db

BASELINE = {"POOL_SIZE": setting("20"), "DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True,
                                                               must_match=True)}
AS_APPROVED = {"POOL_SIZE": "20", "DB_PASSWORD": "vault://kv/payments/db#password"}


@pytest.fixture
def drift(config_change, approve, requester, implementer, service, environments, service_account, clock):
    """November 2026: in staging POOL_SIZE drifted (open) and DB_PASSWORD ran a clear secret, then was
    put back (resolved reverted); in prod POOL_SIZE drifted and an approved change accepted it. One
    staging finding was resolved in September, before the period."""
    clock("2026-11-10 09:00")
    for env in ("staging", "prod"):
        change = config_change(env=env, title=f"Baseline {env}")
        baseline_propose(service=service, environment=environments[env], change=change, settings=BASELINE,
                         actor=requester)
        approve(change)
    now = timezone.now()
    staging, prod = environments["staging"], environments["prod"]
    observation_record(service=service, environment=staging, source="agent", observed_at=now,
                       settings={"POOL_SIZE": "50", "DB_PASSWORD": SECRET}, actor=service_account)
    observation_record(service=service, environment=staging, source="agent", observed_at=now + timedelta(minutes=5),
                       settings={**AS_APPROVED, "POOL_SIZE": "50"}, actor=service_account)
    secret_finding = DriftFinding.objects.get(environment=staging, key="DB_PASSWORD")
    drift_resolve(finding=secret_finding, resolution="reverted", change=None, actor=implementer)
    observation_record(service=service, environment=prod, source="agent", observed_at=now,
                       settings={**AS_APPROVED, "POOL_SIZE": "40"}, actor=service_account)
    accepting = config_change(env="prod", title="Pool 40 in prod")
    baseline_propose(service=service, environment=prod, change=accepting,
                     settings={**BASELINE, "POOL_SIZE": setting("40")}, actor=requester)
    accepting = approve(accepting)
    prod_finding = DriftFinding.objects.get(environment=prod, key="POOL_SIZE")
    drift_resolve(finding=prod_finding, resolution="accepted", change=accepting, actor=implementer)
    september = timezone.now() - timedelta(days=60)
    old = DriftFinding.objects.create(service=service, environment=staging, key="OLD", kind="missing", expected="x",
                                      first_seen=september, last_seen=september, status="resolved",
                                      resolution="reverted", resolved_at=september + timedelta(hours=1))
    return {"open": DriftFinding.objects.get(environment=staging, key="POOL_SIZE"), "reverted": secret_finding,
            "accepted": prod_finding, "old": old, "change": accepting}


def _pack(auditor, capture, **data):
    pack = generate(auditor, capture=capture, **data)
    return zipfile.ZipFile(pack_path(pack))


def test_a_service_period_pack_lists_the_drift_open_in_the_period_and_its_resolutions(
        auditor, drift, django_capture_on_commit_callbacks):
    with _pack(auditor, django_capture_on_commit_callbacks, scope="service_period", service="payments-api",
               period_start="2026-11-01", period_end="2026-11-30") as zf:
        rows = {int(r["finding"]): r for r in read_csv(zf, "listings/config_drift.csv")}
        assert set(rows) == {drift["open"].pk, drift["reverted"].pk, drift["accepted"].pk}
        assert rows[drift["open"].pk]["status"] == "open" and rows[drift["open"].pk]["observed"] == "50"
        assert (rows[drift["reverted"].pk]["resolution"], rows[drift["reverted"].pk]["resolved_by"]) == ("reverted",
                                                                                                         "ivan")
        assert rows[drift["accepted"].pk]["resolving_change"] == drift["change"].number
        whole = {f["id"]: f for f in json.loads(zf.read("config/drift_findings.json"))}
        assert set(whole) == set(rows)
        events = [json.loads(line) for line in zf.read("config/drift_audit_events.jsonl").splitlines()]
        assert {e["action"] for e in events} >= {"config.drift.resolved"}
        assert {e["object_id"] for e in events if e["action"] == "config.drift.resolved"} == {
            str(drift["reverted"].pk), str(drift["accepted"].pk)}
        counts = manifest(zf)["counts"]
        assert counts["config_drift_findings"] == 3 and counts["config_drift_open_at_period_end"] == 1
        assert "config/drift_audit_events.jsonl" in manifest(zf)["audit"]["event_files"]
        # The clear secret the agent reported is nowhere in the pack: only its masked fingerprint.
        for name in zf.namelist():
            assert SECRET.encode() not in zf.read(name), name
        assert rows[drift["reverted"].pk]["observed"].startswith("sha256:")


def test_a_finding_resolved_before_the_period_is_not_listed(auditor, drift, django_capture_on_commit_callbacks):
    with _pack(auditor, django_capture_on_commit_callbacks, scope="service_period", service="payments-api",
               period_start="2026-09-01", period_end="2026-09-30") as zf:
        rows = read_csv(zf, "listings/config_drift.csv")
        assert [int(r["finding"]) for r in rows] == [drift["old"].pk]
        assert manifest(zf)["counts"]["config_drift_open_at_period_end"] == 0


def test_a_control_pack_lists_production_drift_only(auditor, drift, django_capture_on_commit_callbacks):
    with _pack(auditor, django_capture_on_commit_callbacks, scope="control_period", control="sox_change_management",
               period_start="2026-11-01", period_end="2026-11-30") as zf:
        rows = read_csv(zf, "listings/config_drift.csv")
        assert [(int(r["finding"]), r["production"]) for r in rows] == [(drift["accepted"].pk, "yes")]


def test_a_change_pack_lists_the_drift_its_change_accepted(auditor, drift, django_capture_on_commit_callbacks):
    with _pack(auditor, django_capture_on_commit_callbacks, scope="change", change=drift["change"].number) as zf:
        rows = read_csv(zf, "listings/config_drift.csv")
        assert [(int(r["finding"]), r["resolution"]) for r in rows] == [(drift["accepted"].pk, "accepted")]
