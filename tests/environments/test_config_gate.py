"""The gate rule environments.config through POST /api/v1/gates/check/: config_drift,
config_baseline_missing (warn) and runtime_parity, each alone, and waived by an emergency
override where the rule says so."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.environments.config_gate import runtime_differences, version_at
from apps.environments.models import ConfigBaseline, ConfigState, DriftFinding, EnvironmentConfigPolicy
from tests.delivery import test_gate as delivery_gate
from tests.delivery.conftest import *  # noqa: F403  (the gate's fixtures)

# The delivery gate tests' fixtures and helper, reused as they are.
check, good_artifact, deny_codes = delivery_gate.check, delivery_gate.good_artifact, delivery_gate.deny_codes

pytestmark = pytest.mark.django_db

CONFIG_CODES = {"config_drift", "config_baseline_missing", "runtime_parity"}


def config_reasons(result) -> dict[str, str]:
    return {r["code"]: r["severity"] for r in result["reasons"] if r["code"] in CONFIG_CODES}


@pytest.fixture
def approved_baselines(service, environments, make_change):
    change = make_change()
    for env in ("staging", "prod"):
        ConfigBaseline.objects.create(service=service, environment=environments[env], version=1, status="approved",
                                      change=change, settings={"FEATURE_X": {"value": "false", "secret": False,
                                                                             "must_match": True}},
                                      approved_at=timezone.now())


def finding(service, env, key="FEATURE_X", must_match=True, status="open"):
    now = timezone.now()
    return DriftFinding.objects.create(service=service, environment=env, key=key, kind="changed", expected="false",
                                       observed="true", must_match=must_match, status=status, first_seen=now,
                                       last_seen=now)


def runtimes(service, env, **versions):
    ConfigState.objects.update_or_create(service=service, environment=env,
                                         defaults={"runtimes": versions, "last_observed_at": timezone.now()})


def test_a_compliant_deployment_has_no_configuration_reason(check, good_artifact, make_change, approved_baselines):
    result = check(good_artifact, make_change())
    assert result["decision"] == "allow"
    assert config_reasons(result) == {}


def test_config_baseline_missing_warns(check, good_artifact, make_change):
    result = check(good_artifact, make_change())
    assert result["decision"] == "allow"
    assert config_reasons(result) == {"config_baseline_missing": "warn"}


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_config_drift_in_the_target_or_previous_environment_denies(env, check, good_artifact, make_change,
                                                                   approved_baselines, service, environments):
    finding(service, environments[env])
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"config_drift"}
    message = next(r["message"] for r in result["reasons"] if r["code"] == "config_drift")
    assert f"FEATURE_X ({env})" in message


def test_drift_that_is_not_gate_relevant_does_not_deny(check, good_artifact, make_change, approved_baselines,
                                                      service, environments):
    finding(service, environments["prod"], key="POOL_SIZE", must_match=False)
    finding(service, environments["prod"], status="resolved")
    finding(service, environments["dev"], key="OTHER")  # two environments below: not compared
    assert config_reasons(check(good_artifact, make_change())) == {}


@pytest.mark.parametrize("precision,prod_java,denied", [
    (None, "17.0.5", False),      # no policy: minor
    (None, "17.1.0", True),
    ("major", "17.4.2", False),
    ("major", "21.0.1", True),
    ("patch", "17.0.9", False),
    ("patch", "17.0.10", True),
])
def test_runtime_parity_at_the_target_environments_precision(precision, prod_java, denied, check, good_artifact,
                                                            make_change, approved_baselines, service, environments):
    if precision:
        EnvironmentConfigPolicy.objects.create(environment=environments["prod"], parity_precision=precision)
    runtimes(service, environments["staging"], java="17.0.9", node="20.11.1")
    runtimes(service, environments["prod"], java=prod_java, node="20.11.1")
    result = check(good_artifact, make_change())
    assert deny_codes(result) == ({"runtime_parity"} if denied else set())
    if denied:
        message = next(r["message"] for r in result["reasons"] if r["code"] == "runtime_parity")
        assert f"java {prod_java} here, 17.0.9 in the previous environment" in message


def test_a_runtime_observed_in_one_environment_only_is_not_compared(check, good_artifact, make_change,
                                                                    approved_baselines, service, environments):
    runtimes(service, environments["staging"], java="17.0.9", python="3.12.1")
    runtimes(service, environments["prod"], java="17.0.9")
    assert config_reasons(check(good_artifact, make_change())) == {}


def test_an_emergency_override_turns_configuration_denials_into_warnings(check, good_artifact, make_change,
                                                                         approved_baselines, service, environments,
                                                                         monkeypatch):
    from apps.delivery import gate

    change = make_change(state="in_review")
    finding(service, environments["prod"])
    runtimes(service, environments["staging"], java="17.0.9")
    runtimes(service, environments["prod"], java="21.0.1")
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(good_artifact, change)
    assert result["decision"] == "allow"
    assert config_reasons(result) == {"config_drift": "warn", "runtime_parity": "warn"}


def test_version_precision():
    assert version_at("17.0.9", "major") == (17,)
    assert version_at("17.0.9", "minor") == (17, 0)
    assert version_at("17", "minor") == (17, 0)
    assert version_at("v20.11.1-alpine", "patch") == (20, 11, 1)
    assert version_at("latest", "minor") == ("latest",)
    assert runtime_differences({"go": "1.22.1"}, {"go": "1.22.3"}, "minor") == []


def test_the_rule_is_declared_and_registered(settings):
    from apps.delivery.gate_rules import registered_gate_rules

    assert "environments.config" in settings.GATE_EXPECTED_RULES
    rule = next(r for r in registered_gate_rules() if r.name == "environments.config")
    assert set(rule.codes) == CONFIG_CODES
