"""The gate rule environments.migrations, through POST /api/v1/gates/check/: a declared
migration must have run successfully, with the same checksum, in the previous environment
(migration_not_tested; waived by an emergency override) and must not be applied with another
checksum in the target or previous environment (migration_checksum_mismatch; never waived)."""

from __future__ import annotations

import pytest

from apps.delivery.models import Evidence
from tests.delivery import test_gate

from .conftest import migration

pytestmark = pytest.mark.django_db

good_artifact = test_gate.good_artifact
check = test_gate.check
deny_codes = test_gate.deny_codes

DECLARED = [{"version": "41", "description": "add ledger index", "checksum": "c41"},
            {"version": "42", "description": "backfill currency", "checksum": "c42"}]


@pytest.fixture
def declare(pipeline):
    def post(artifact, migrations=DECLARED, tool="flyway"):
        response = pipeline.post(f"/api/v1/artifacts/{artifact.digest}/evidence/",
                                 {"kind": "migrations", "document": {"tool": tool, "migrations": migrations}},
                                 format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return post


def codes(result) -> dict[str, str]:
    """The reasons by code, less the configuration rule's warning that no baseline is approved
    (every service of these tests has none: tests/environments/test_config_gate.py covers it)."""
    return {r["code"]: r["severity"] for r in result["reasons"] if r["code"] != "config_baseline_missing"}


def test_the_declaration_is_kept_in_the_evidence_summary(declare, good_artifact):
    body = declare(good_artifact)
    assert body["kind"] == "migrations"
    assert body["summary"] == {"tool": "flyway", "count": 2, "migrations": DECLARED}
    assert Evidence.objects.get(kind="migrations").summary["count"] == 2


@pytest.mark.parametrize("document, why", [
    ({"migrations": []}, "names its tool"),
    ({"tool": "flyway"}, "lists its migrations"),
    ({"tool": "flyway", "migrations": [{"version": "1"}]}, "needs a checksum"),
    ({"tool": "flyway", "migrations": [{"version": "1", "checksum": "a"}, {"version": "1", "checksum": "b"}]},
     "declared twice"),
])
def test_a_malformed_declaration_is_refused(pipeline, good_artifact, document, why):
    response = pipeline.post(f"/api/v1/artifacts/{good_artifact.digest}/evidence/",
                             {"kind": "migrations", "document": document}, format="json")
    assert response.status_code == 400 and why in response.json()["error"]["message"]
    assert not Evidence.objects.filter(kind="migrations").exists()


def test_production_is_refused_when_a_declared_migration_did_not_run_in_staging(check, declare, good_artifact,
                                                                                make_change, post_applied):
    declare(good_artifact)
    post_applied([migration("41", "c41")], env="staging")
    post_applied([migration("42", "c42", status="failed")], env="staging")
    result = check(good_artifact, make_change())
    assert result["decision"] == "deny" and deny_codes(result) == {"migration_not_tested"}
    assert "42" in result["reasons"][0]["message"] and "41" not in result["reasons"][0]["message"]


def test_production_is_allowed_once_every_declared_migration_ran_in_staging(check, declare, good_artifact,
                                                                            make_change, post_applied):
    declare(good_artifact)
    post_applied([migration("41", "c41"), migration("42", "c42", status="failed")], env="staging")
    post_applied([migration("42", "c42")], env="staging")  # the retry succeeded
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_below_production_an_untested_migration_is_a_warning(check, declare, make_artifact, promoted):
    artifact = make_artifact()
    promoted(artifact, "dev")
    declare(artifact)
    result = check(artifact, None, env="staging")
    assert result["decision"] == "allow" and codes(result) == {"migration_not_tested": "warn"}


@pytest.mark.parametrize("where", ["staging", "prod"])
def test_another_checksum_in_the_previous_or_target_environment_is_a_mismatch(check, declare, good_artifact,
                                                                              make_change, post_applied, where):
    declare(good_artifact)
    post_applied([migration("41", "c41"), migration("42", "c42")], env="staging")
    post_applied([migration("42", "edited-after-it-ran")], env=where, pipeline_run_id="x")
    if where == "staging":  # the applied 42 in staging is the declared one: record the other on a fresh version
        declare(good_artifact, [*DECLARED[:1], {"version": "42", "checksum": "c42-new", "description": "changed"}])
    result = check(good_artifact, make_change())
    assert "migration_checksum_mismatch" in deny_codes(result)
    assert f"42 in {where}" in next(r["message"] for r in result["reasons"]
                                   if r["code"] == "migration_checksum_mismatch")


def test_an_emergency_override_waives_an_untested_migration(check, declare, good_artifact, make_change, monkeypatch):
    from apps.delivery import gate

    declare(good_artifact)
    change = make_change()
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(good_artifact, change)
    assert result["decision"] == "allow" and result["emergency_override"] is True
    assert codes(result) == {"migration_not_tested": "warn", "emergency_override": "warn"}


def test_an_emergency_override_never_waives_a_checksum_mismatch(check, declare, good_artifact, make_change,
                                                                post_applied, monkeypatch):
    from apps.delivery import gate

    declare(good_artifact)
    post_applied([migration("41", "c41"), migration("42", "other")], env="staging")
    change = make_change()
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object() if c == change else None)
    result = check(good_artifact, change)
    assert result["decision"] == "deny" and result["emergency_override"] is False
    assert deny_codes(result) == {"migration_checksum_mismatch"}


def test_the_newest_declaration_counts(check, declare, good_artifact, make_change, post_applied):
    declare(good_artifact)
    declare(good_artifact, DECLARED[:1])
    post_applied([migration("41", "c41")], env="staging")
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_the_rule_costs_one_query_with_a_declaration(check, declare, good_artifact, make_change, post_applied):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    declare(good_artifact)
    post_applied([migration("41", "c41"), migration("42", "c42")], env="staging")
    change = make_change()
    with CaptureQueriesContext(connection) as ctx:
        assert check(good_artifact, change)["decision"] == "allow"
    ours = [q for q in ctx.captured_queries if "environments_appliedmigration" in q["sql"]]
    assert len(ours) == 1


def test_the_rule_is_registered_and_expected(settings):
    from apps.delivery.gate_rules import registered_gate_rules

    assert "environments.migrations" in settings.GATE_EXPECTED_RULES
    rule = next(r for r in registered_gate_rules() if r.name == "environments.migrations")
    assert dict(rule.codes) == {"migration_not_tested": True, "migration_checksum_mismatch": False}


def test_without_the_rule_the_gate_fails_closed(check, declare, good_artifact, make_change, post_applied):
    from apps.delivery.gate_rules import register_gate_rule, unregister_gate_rule

    declare(good_artifact)
    post_applied([migration("41", "c41"), migration("42", "c42")], env="staging")
    rule = unregister_gate_rule("environments.migrations")
    try:
        assert "gate_rule_missing" in deny_codes(check(good_artifact, make_change()))
    finally:
        register_gate_rule(rule)
