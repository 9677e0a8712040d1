"""The gate: every reason code, promotion order, emergency overrides, and every call recorded."""

from __future__ import annotations

import pytest

from apps.delivery import services
from apps.delivery.models import EnvironmentPolicy, GateDecision, SignatureStatus, SigningKey

from . import documents as docs

pytestmark = pytest.mark.django_db


@pytest.fixture
def good_artifact(make_artifact, promoted, prod_policy, team, deployer, ed25519_key):
    """An artifact that satisfies the production policy in every respect."""
    from .conftest import pem_of

    key = SigningKey.objects.create(team=team, name="ci", algorithm="ed25519", public_key_pem=pem_of(ed25519_key),
                                    fingerprint="f" * 64)
    artifact = make_artifact(signature="sig", signature_status=SignatureStatus.VALID, signing_key=key)
    attach = lambda kind, data: services.evidence_attach(artifact=artifact, kind=kind, data=data, actor=deployer)  # noqa: E731
    attach("junit", docs.junit_xml(tests=5))
    attach("sarif", docs.as_bytes(docs.sarif([docs.finding("R", "warning")])))
    attach("cyclonedx", docs.as_bytes(docs.cyclonedx([("a", "MIT"), ("b", "Apache-2.0")])))
    attach("slsa_provenance", docs.as_bytes(docs.provenance(artifact.digest)))
    promoted(artifact, "staging", days_ago=1)
    return artifact


@pytest.fixture
def check(pipeline, environments):
    def run(artifact=None, change=None, env="prod", service="payments-api", client=None, digest=None):
        body = {"service": service, "environment": env, "artifact": digest or (artifact.digest if artifact else ""),
                "change": (change.number if hasattr(change, "number") else change) or "", "pipeline_run_id": "run-1"}
        response = (client or pipeline).post("/api/v1/gates/check/", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    return run


def deny_codes(result):
    return {r["code"] for r in result["reasons"] if r["severity"] == "deny"}


def test_a_compliant_deployment_is_allowed_and_recorded(check, good_artifact, make_change):
    change = make_change()
    result = check(good_artifact, change)
    assert result["decision"] == "allow", result
    assert deny_codes(result) == set()
    decision = GateDecision.objects.get(pk=result["gate_decision_id"])
    assert decision.change == change and decision.requested_by.username == "ci-bot"
    assert decision.pipeline_run_id == "run-1"


def test_every_call_is_recorded_with_its_reasons(check, good_artifact):
    result = check(good_artifact, None)
    assert result["decision"] == "deny"
    # config_baseline_missing: the environments.config rule warns (no approved baseline in this test).
    assert GateDecision.objects.get(pk=result["gate_decision_id"]).reason_codes == ["change_not_approved",
                                                                                    "config_baseline_missing"]


@pytest.mark.parametrize("state", ["draft", "in_review", "rejected", "completed"])
def test_change_not_approved(check, good_artifact, make_change, state):
    assert deny_codes(check(good_artifact, make_change(state=state))) == {"change_not_approved"}


def test_an_unknown_change_is_not_approved(check, good_artifact):
    assert deny_codes(check(good_artifact, "CHG-999999")) == {"change_not_approved"}


def test_change_service_mismatch(check, good_artifact, make_change, team):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="ledger", owner_team=team)
    assert deny_codes(check(good_artifact, make_change(svc=other))) == {"change_service_mismatch"}
    assert deny_codes(check(good_artifact, make_change(env="staging"))) == {"change_service_mismatch"}


@pytest.mark.parametrize("code", ["outside_maintenance_window", "freeze_active"])
def test_schedule_blockers_from_the_changes_app(check, good_artifact, make_change, monkeypatch, code):
    from apps.delivery import gate

    seen = {}

    def blockers(*, service, environment, at, change=None):
        seen.update(service=service, environment=environment, change=change)
        return [(code, "Not now.")]

    monkeypatch.setattr(gate, "schedule_blockers", blockers)
    change = make_change()
    assert deny_codes(check(good_artifact, change)) == {code}
    assert seen["change"] == change and seen["environment"].slug == "prod"


def test_artifact_unknown(check, good_artifact, make_change):
    from .conftest import digest_of

    assert deny_codes(check(None, make_change(), digest=digest_of("never built"))) == {"artifact_unknown"}


def test_artifact_unsigned(check, good_artifact, make_change):
    good_artifact.signature_status = SignatureStatus.UNSIGNED
    good_artifact.save()
    assert deny_codes(check(good_artifact, make_change())) == {"artifact_unsigned"}


def test_unsigned_is_fine_where_signatures_are_not_required(check, make_artifact, promoted, make_change):
    artifact = make_artifact()
    promoted(artifact, "dev")
    assert check(artifact, None, env="staging")["decision"] == "allow"


def test_signature_invalid(check, good_artifact, make_change):
    good_artifact.signature_status = SignatureStatus.INVALID
    good_artifact.save()
    assert deny_codes(check(good_artifact, make_change())) == {"signature_invalid"}


def test_tests_failed(check, good_artifact, make_change, deployer):
    services.evidence_attach(artifact=good_artifact, kind="junit", data=docs.junit_xml(tests=5, failures=1), actor=deployer)
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"tests_failed"}
    assert "1 failed" in result["reasons"][0]["message"]


def test_missing_test_results_fail_the_tests_rule(check, make_artifact, promoted, prod_policy, make_change):
    prod_policy.require_signature = prod_policy.provenance_required = False
    prod_policy.save()
    artifact = make_artifact()
    promoted(artifact)
    assert deny_codes(check(artifact, make_change())) == {"tests_failed"}


def test_vulnerabilities_over_threshold(check, good_artifact, make_change, deployer):
    findings = [docs.finding(f"H{i}", "error") for i in range(4)]  # 4 high > 3 allowed
    services.evidence_attach(artifact=good_artifact, kind="sarif", data=docs.as_bytes(docs.sarif(findings)), actor=deployer)
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"vulnerabilities_over_threshold"}
    assert "4 high" in result["reasons"][0]["message"]


def test_suppressed_findings_do_not_count(check, good_artifact, make_change, deployer):
    findings = [docs.finding("CRIT", "error", suppressed=True), *[docs.finding(f"H{i}", "error") for i in range(3)]]
    data = docs.as_bytes(docs.sarif(findings, rules=[docs.rule("CRIT", "9.9")]))
    services.evidence_attach(artifact=good_artifact, kind="sarif", data=data, actor=deployer)
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_one_critical_sbom_vulnerability_is_over_a_zero_threshold(check, good_artifact, make_change, deployer):
    sbom = docs.cyclonedx([("a", "MIT")], vulnerabilities=[{"id": "CVE-9", "ratings": [{"severity": "critical"}]}])
    services.evidence_attach(artifact=good_artifact, kind="cyclonedx", data=docs.as_bytes(sbom), actor=deployer)
    assert deny_codes(check(good_artifact, make_change())) == {"vulnerabilities_over_threshold"}


def test_license_violation(check, good_artifact, make_change, deployer):
    sbom = docs.spdx([("a", "MIT"), ("b", "AGPL-3.0-only")])
    services.evidence_attach(artifact=good_artifact, kind="spdx", data=docs.as_bytes(sbom), actor=deployer)
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"license_violation"}
    assert "AGPL-3.0-only" in result["reasons"][0]["message"]


def test_a_denied_licence_offered_as_an_alternative_passes(check, good_artifact, make_change, deployer):
    sbom = docs.cyclonedx([("a", "MIT OR AGPL-3.0-only")])
    services.evidence_attach(artifact=good_artifact, kind="cyclonedx", data=docs.as_bytes(sbom), actor=deployer)
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_the_allow_list_refuses_everything_else_and_unknown_licences_warn(check, good_artifact, make_change, deployer,
                                                                          prod_policy):
    prod_policy.license_allow = ["MIT", "Apache-2.0"]
    prod_policy.save()
    sbom = docs.cyclonedx([("a", "MIT"), ("b", None)])
    services.evidence_attach(artifact=good_artifact, kind="cyclonedx", data=docs.as_bytes(sbom), actor=deployer)
    result = check(good_artifact, make_change())
    assert result["decision"] == "allow"
    assert {"code": "license_unknown", "severity": "warn"}.items() <= result["reasons"][0].items()
    sbom = docs.cyclonedx([("a", "MIT"), ("c", "BSD-3-Clause")])
    services.evidence_attach(artifact=good_artifact, kind="cyclonedx", data=docs.as_bytes(sbom), actor=deployer)
    from apps.delivery.models import DeploymentLock

    DeploymentLock.objects.all().delete()
    assert deny_codes(check(good_artifact, make_change())) == {"license_violation"}


def test_provenance_missing(check, good_artifact, make_change):
    good_artifact.evidence.filter(kind="slsa_provenance").delete()
    assert deny_codes(check(good_artifact, make_change())) == {"provenance_missing"}


def test_not_promoted_to_the_previous_environment(check, make_artifact, make_change, promoted):
    artifact = make_artifact()
    assert deny_codes(check(artifact, None, env="staging")) == {"not_promoted"}
    promoted(artifact, "prod")  # having reached a later environment does not count
    assert deny_codes(check(artifact, None, env="staging")) == {"not_promoted"}
    promoted(artifact, "dev")
    assert check(artifact, None, env="staging")["decision"] == "allow"


def test_the_first_environment_needs_no_promotion(check, make_artifact):
    assert check(make_artifact(), None, env="dev")["decision"] == "allow"


def test_production_needs_staging_within_the_configured_days(check, good_artifact, make_change, promoted):
    good_artifact.deployments.all().delete()
    promoted(good_artifact, "staging", days_ago=20)  # policy: 14 days
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"not_promoted"}
    assert "14 days" in result["reasons"][0]["message"]
    promoted(good_artifact, "staging", days_ago=2)
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_a_failed_staging_deployment_does_not_promote(check, good_artifact, make_change, promoted):
    good_artifact.deployments.update(status="failed")
    assert deny_codes(check(good_artifact, make_change())) == {"not_promoted"}


def test_deployment_in_progress(check, good_artifact, make_change):
    assert check(good_artifact, make_change())["decision"] == "allow"
    second = check(good_artifact, make_change())
    assert deny_codes(second) == {"deployment_in_progress"}


def test_a_running_deployment_without_a_lock_also_blocks(check, good_artifact, make_change, environments):
    from apps.delivery.models import Deployment

    Deployment.objects.create(service=good_artifact.service, environment=environments["prod"], version="0.9",
                              status="in_progress")
    assert deny_codes(check(good_artifact, make_change())) == {"deployment_in_progress"}


def test_deployer_not_authorized(check, good_artifact, make_change, api_client_for, release_manager):
    client = api_client_for(release_manager, ["delivery:write"])
    result = check(good_artifact, make_change(), client=client)
    assert deny_codes(result) == {"deployer_not_authorized"}
    # Outside production no privilege is needed.
    assert check(good_artifact, None, env="dev", client=client)["decision"] == "allow"


def test_the_deployer_privilege_is_reported_as_exercised_on_allow(check, good_artifact, make_change,
                                                                 django_capture_on_commit_callbacks):
    from apps.catalog.signals import privilege_exercised

    calls = []
    receiver = lambda sender, **kw: calls.append(kw)  # noqa: E731
    privilege_exercised.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            check(good_artifact, make_change())
    finally:
        privilege_exercised.disconnect(receiver)
    assert len(calls) == 1
    assert calls[0]["privilege"] == "deployer" and calls[0]["user"].username == "ci-bot"
    assert calls[0]["environment"].slug == "prod"


def test_several_reasons_are_reported_together(check, make_artifact, make_change, prod_policy):
    result = check(make_artifact(), make_change(state="draft"))
    assert deny_codes(result) >= {"change_not_approved", "artifact_unsigned", "tests_failed", "provenance_missing",
                                  "not_promoted"}


def test_an_emergency_override_allows_with_a_warning(check, good_artifact, make_change, monkeypatch):
    from apps.delivery import gate

    change = make_change(state="in_review")
    good_artifact.evidence.filter(kind="slsa_provenance").delete()
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(good_artifact, change)
    assert result["decision"] == "allow"
    assert result["emergency_override"] is True
    codes = {r["code"]: r["severity"] for r in result["reasons"]}
    assert codes == {"change_not_approved": "warn", "provenance_missing": "warn", "emergency_override": "warn",
                     "config_baseline_missing": "warn"}


def test_an_emergency_override_never_waives_a_bad_signature(check, good_artifact, make_change, monkeypatch):
    from apps.delivery import gate

    good_artifact.signature_status = SignatureStatus.INVALID
    good_artifact.save()
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object())
    assert check(good_artifact, make_change())["decision"] == "deny"


def test_it_denies_a_change_forced_into_scheduled_without_approvals(check, good_artifact, make_change):
    from apps.changes.models import ChangeRequest

    change = make_change(state="draft")
    ChangeRequest.objects.filter(pk=change.pk).update(state="scheduled")  # past every service and guard
    result = check(good_artifact, change)
    assert result["decision"] == "deny"
    assert deny_codes(result) == {"change_not_approved"}


def test_it_denies_a_change_whose_content_moved_after_its_approvals(check, good_artifact, make_change):
    from apps.changes.models import ChangeRequest

    change = make_change()  # scheduled, every mandatory stage approved on its content
    ChangeRequest.objects.filter(pk=change.pk).update(rollback_plan="Nothing; hope.")
    assert deny_codes(check(good_artifact, change)) == {"change_not_approved"}


def test_it_denies_a_change_missing_one_mandatory_stage(check, good_artifact, make_change):
    change = make_change()
    change.approvals.filter(stage_name="Security").delete()
    assert deny_codes(check(good_artifact, change)) == {"change_not_approved"}


@pytest.mark.parametrize("template_state, decision", [("approved", "allow"), ("retired", "deny"), (None, "deny")])
def test_a_pre_approved_standard_change_needs_an_approved_template(check, good_artifact, make_change, change_type,
                                                                    requester, template_state, decision):
    from apps.change_types.models import ChangeType, StandardChangeTemplate

    template = None
    if template_state:
        template = StandardChangeTemplate.objects.create(slug="restart", name="Restart", state=template_state,
                                                         proposed_by=requester)
    standard = ChangeType.objects.get(slug="standard")
    change = make_change(change_type=standard, standard_template=template, approved=False)
    result = check(good_artifact, change)
    assert result["decision"] == decision
    assert deny_codes(result) == (set() if decision == "allow" else {"change_not_approved"})


def test_the_changes_app_still_has_its_say(check, good_artifact, make_change):
    # A fully approved record does not make a completed change deployable again.
    assert deny_codes(check(good_artifact, make_change(state="completed", approved=True))) == {"change_not_approved"}


def test_a_policy_free_environment_still_enforces_promotion(check, make_artifact, environments):
    EnvironmentPolicy.objects.filter(environment=environments["staging"]).delete()
    assert deny_codes(check(make_artifact(), None, env="staging")) == {"not_promoted"}


def test_a_token_without_delivery_write_cannot_ask_the_gate(api_client_for, deployer, good_artifact):
    client = api_client_for(deployer, ["delivery:read"])
    response = client.post("/api/v1/gates/check/", {"service": "payments-api", "environment": "prod",
                                                    "artifact": good_artifact.digest}, format="json")
    assert response.status_code == 403
    assert GateDecision.objects.count() == 0




def test_a_gate_check_costs_a_fixed_number_of_queries(check, good_artifact, make_change,
                                                       django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    change = make_change()
    with CaptureQueriesContext(connection) as ctx:
        assert check(good_artifact, change)["decision"] == "allow"
    # Authentication, service, environment, artifact, change, one read of the slot, promotion and
    # evidence, the privilege, the schedule; the approval record (live approvals and the override
    # authorisers segregation of duties excludes); the decision, the lock and the audit event.
    # +5 for environments.config (apps/environments/config_gate.py): its 3 queries (open must-match
    # drift; target baseline and parity precision; runtimes of both environments) and the savepoint
    # around a registered rule (SAVEPOINT, RELEASE).
    chain_lock = 1 if connection.vendor == "postgresql" else 0  # the audit chain's advisory lock
    # Rules of the apps above delivery (gate_rules.py), each in its own savepoint inside the
    # test's transaction (SAVEPOINT and RELEASE: 2 statements) plus its queries:
    # environments.migrations 2 (its query runs only when migrations are declared),
    # environments.config 5 (3 queries), validation.canary 3, releases.dependencies 3 and
    # releases.templates 3 (one query each).
    rules = 2 + 5 + 3 + 3 + 3
    assert len(ctx.captured_queries) <= 23 + rules + chain_lock
    facts = [q for q in ctx.captured_queries if "delivery_evidence" in q["sql"] or "delivery_deployment " in q["sql"]]
    assert len(facts) == 1, "the slot, promotion and evidence are read in one statement"
    # The denied repeat: no lock, no token refresh; +1 for the owning team's chat channels, told of
    # a denial in production (apps/notifications: one query when no channel takes the event).
    with django_assert_max_num_queries(18 + 1 + rules + chain_lock):
        assert check(good_artifact, change)["decision"] == "deny"
