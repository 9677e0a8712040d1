"""Gate rules registered by other apps (apps/delivery/gate_rules.py): they are evaluated with
delivery's own, their overridable codes bend to an emergency override, and the gate fails
closed when a declared rule is missing, raises or answers a code it never declared."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.delivery import gate, gate_rules
from apps.delivery.gate_rules import DENY, WARN, GateRule

from .test_gate import check, deny_codes, good_artifact  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(settings):
    """Registers one test rule for the test and removes it afterwards."""
    registered = []

    def add(check_fn, codes=None, name="tests.rule", expected=True):
        gate_rules.register_gate_rule(GateRule(name=name, codes=codes or {"test_denied": True, "test_warned": False},
                                               check=check_fn))
        registered.append(name)
        if expected:
            settings.GATE_EXPECTED_RULES = [*settings.GATE_EXPECTED_RULES, name]

    yield add
    for name in registered:
        gate_rules.unregister_gate_rule(name)


def test_a_registered_rule_is_evaluated_with_the_context_of_the_call(check, good_artifact, make_change, rule):  # noqa: F811
    seen = []

    def deny_prod(context):
        seen.append(context)
        if context.environment.is_production:
            yield "test_denied", DENY, f"{context.service.slug} may not go to {context.environment.slug}."
        yield "test_warned", WARN, "just so you know"

    rule(deny_prod)
    change = make_change()
    result = check(good_artifact, change)
    assert result["decision"] == "deny"
    assert deny_codes(result) == {"test_denied"}
    assert {"code": "test_warned", "message": "just so you know", "severity": "warn"} in result["reasons"]
    (context,) = seen
    assert context.change == change and context.artifact == good_artifact
    assert context.previous_environment_slug == "staging"


def test_a_rule_that_allows_leaves_the_gate_open(check, good_artifact, make_change, rule):  # noqa: F811
    rule(lambda context: [])
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_a_declared_rule_that_is_not_installed_denies_every_deployment(check, good_artifact, make_change,  # noqa: F811
                                                                        settings):
    settings.GATE_EXPECTED_RULES = ["nowhere.rule"]
    result = check(good_artifact, make_change())
    assert result["decision"] == "deny"
    assert deny_codes(result) == {"gate_rule_missing"}
    assert "nowhere.rule" in result["reasons"][0]["message"]


def test_a_declared_rule_that_is_not_installed_stops_start_up(settings):
    settings.GATE_EXPECTED_RULES = ["nowhere.rule"]
    errors = gate_rules.check_expected_gate_rules()
    assert [e.id for e in errors] == ["delivery.E001"] and "nowhere.rule" in errors[0].msg
    with pytest.raises(SystemCheckError, match="nowhere.rule"):
        call_command("check")


def test_every_rule_the_settings_declare_is_installed():
    assert gate_rules.check_expected_gate_rules() == []


def test_a_rule_that_raises_denies(check, good_artifact, make_change, rule):  # noqa: F811
    def broken(context):
        raise RuntimeError("boom")

    rule(broken)
    result = check(good_artifact, make_change())
    assert result["decision"] == "deny" and deny_codes(result) == {"gate_rule_error"}


def test_a_rule_answering_an_undeclared_code_denies(check, good_artifact, make_change, rule):  # noqa: F811
    rule(lambda context: [("something_else", WARN, "not declared")])
    result = check(good_artifact, make_change())
    assert deny_codes(result) == {"gate_rule_error"}
    assert "something_else" not in {r["code"] for r in result["reasons"]}


def test_two_rules_may_not_claim_one_code(rule):
    rule(lambda context: [], name="tests.first", expected=False)
    with pytest.raises(ValueError, match="test_denied"):
        gate_rules.register_gate_rule(GateRule(name="tests.second", codes={"test_denied": False},
                                               check=lambda context: []))


@pytest.mark.parametrize("overridable", [True, False])
def test_an_emergency_override_waives_only_codes_declared_overridable(check, good_artifact, make_change,  # noqa: F811
                                                                       rule, monkeypatch, overridable):
    rule(lambda context: [("test_denied", DENY, "no")], codes={"test_denied": overridable})
    change = make_change()
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(good_artifact, change)
    assert result["decision"] == ("allow" if overridable else "deny")
    assert {r["code"]: r["severity"] for r in result["reasons"]}["test_denied"] == ("warn" if overridable else "deny")


def test_the_gate_decision_list_offers_registered_codes(rule, client, django_user_model):
    rule(lambda context: [], expected=False)
    assert "test_denied" in gate.all_reason_codes() and "tests_failed" in gate.all_reason_codes()
