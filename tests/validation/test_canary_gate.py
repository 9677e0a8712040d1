"""The gate rule validation.canary through POST /api/v1/gates/check/: an artifact whose latest
canary analysis failed may not be promoted further (the same environment's full rollout and every
later one); a later passing analysis of that deployment lifts it; an emergency override may waive
it; the rule is declared, registered and fails closed when missing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from apps.delivery import gate, gate_rules
from apps.delivery.models import Deployment
from apps.validation.gate import RULE, RULE_NAME
from apps.validation.models import CanaryAnalysis
from tests.delivery.conftest import (  # noqa: F401  (fixtures)
    _fast_passwords,
    change_type,
    deployer,
    ed25519_key,
    make_artifact,
    make_change,
    pipeline,
    prod_policy,
    promoted,
)
from tests.delivery.test_gate import check, deny_codes, good_artifact  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


def _canary(artifact, env, environments, result, *, minutes_ago=10, deployment=None):
    if deployment is None:
        deployment = Deployment.objects.create(
            service=artifact.service, environment=environments[env], artifact=artifact, version=artifact.version,
            status="succeeded", started_at=timezone.now() - timedelta(hours=1), finished_at=timezone.now())
    CanaryAnalysis.objects.create(deployment=deployment, artifact=artifact, method="mann_whitney_u_two_sided",
                                  metrics=[], score={"pass": 100, "marginal": 80, "fail": 25}[result], result=result,
                                  pass_score=95, marginal_score=75,
                                  created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return deployment


def test_a_failed_canary_denies_promotion_to_a_later_environment(check, make_artifact, environments):  # noqa: F811
    artifact = make_artifact()
    dev = _canary(artifact, "dev", environments, "fail")
    result = check(artifact, env="staging")
    assert result["decision"] == "deny" and deny_codes(result) == {"canary_failed"}
    reason = next(r for r in result["reasons"] if r["code"] == "canary_failed")
    assert f"#{dev.pk}" in reason["message"] and "dev" in reason["message"]


def test_a_failed_canary_denies_the_full_rollout_in_its_own_environment(check, good_artifact, make_change,  # noqa: F811
                                                                         environments):
    _canary(good_artifact, "prod", environments, "fail")
    assert "canary_failed" in deny_codes(check(good_artifact, make_change()))


def test_an_earlier_environment_is_not_denied(check, make_artifact, environments):  # noqa: F811
    artifact = make_artifact()
    _canary(artifact, "staging", environments, "fail")
    assert "canary_failed" not in deny_codes(check(artifact, env="dev"))


def test_a_later_passing_analysis_of_the_same_deployment_lifts_the_denial(check, make_artifact, environments):  # noqa: F811
    artifact = make_artifact()
    dev = _canary(artifact, "dev", environments, "fail", minutes_ago=20)
    _canary(artifact, "dev", environments, "pass", minutes_ago=5, deployment=dev)
    assert check(artifact, env="staging")["decision"] == "allow"


def test_a_passing_or_marginal_canary_does_not_deny(check, make_artifact, environments):  # noqa: F811
    artifact = make_artifact()
    _canary(artifact, "dev", environments, "marginal")
    assert check(artifact, env="staging")["decision"] == "allow"


def test_another_artifacts_failure_does_not_deny(check, make_artifact, environments):  # noqa: F811
    _canary(make_artifact(), "dev", environments, "fail")
    assert "canary_failed" not in deny_codes(check(make_artifact(), env="staging"))


def test_an_emergency_override_waives_it_with_a_warning(check, make_artifact, make_change, environments,  # noqa: F811
                                                        monkeypatch):
    artifact = make_artifact()
    _canary(artifact, "dev", environments, "fail")
    change = make_change(env="staging")
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(artifact, change, env="staging")
    assert result["decision"] == "allow"
    codes = {r["code"]: r["severity"] for r in result["reasons"]}
    assert codes["canary_failed"] == "warn" and codes["emergency_override"] == "warn"


def test_the_rule_is_declared_registered_and_overridable(settings):
    assert RULE_NAME in settings.GATE_EXPECTED_RULES
    assert RULE_NAME in {rule.name for rule in gate_rules.registered_gate_rules()}
    assert gate.overridable("canary_failed") is True


def test_without_the_rule_the_portal_fails_closed(check, make_artifact, environments):  # noqa: F811
    gate_rules.unregister_gate_rule(RULE_NAME)
    try:
        with pytest.raises(SystemCheckError, match="validation.canary"):
            call_command("check")
        assert "gate_rule_missing" in deny_codes(check(make_artifact(), env="dev"))
    finally:
        gate_rules.register_gate_rule(RULE)
