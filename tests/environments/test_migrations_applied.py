"""POST /api/v1/migrations/applied/: idempotent per version and checksum, a retry after a
failure, another checksum for an applied version refused (409) and flagged, nothing else of
that request written; the deployer privilege in production; outsiders."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.environments.models import AppliedMigration, MigrationMismatch

from .conftest import migration

pytestmark = pytest.mark.django_db


def test_new_migrations_are_recorded_with_history_and_one_audit_event(post_applied, environments, deployer):
    response = post_applied([migration("1", "aaa"), migration("2", "bbb", applied_at="2026-11-30T10:00:00Z")],
                            pipeline_run_id="run-9")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["duplicates"] == 0 and [m["version"] for m in body["recorded"]] == ["1", "2"]
    row = AppliedMigration.objects.get(version="2")
    assert row.checksum == "bbb" and row.applied_at.isoformat() == "2026-11-30T10:00:00+00:00"
    assert row.history.get().history_user == deployer
    event = AuditEvent.objects.get(action="environments.migrations_applied")
    assert event.details["recorded"] == [{"version": "1", "checksum": "aaa", "status": "success"},
                                         {"version": "2", "checksum": "bbb", "status": "success"}]


def test_the_same_version_and_checksum_again_changes_nothing(post_applied, environments):
    post_applied([migration("1", "aaa"), migration("2", "bbb")])
    again = post_applied([migration("1", "aaa"), migration("2", "bbb"), migration("3", "ccc")])
    assert again.status_code == 201 and again.json()["duplicates"] == 2
    same = post_applied([migration("1", "aaa"), migration("2", "bbb"), migration("3", "ccc")])
    assert same.status_code == 200 and same.json() == {"recorded": [], "duplicates": 3}
    assert AppliedMigration.objects.count() == 3
    assert AuditEvent.objects.filter(action="environments.migrations_applied").count() == 2


def test_a_failure_then_a_success_of_the_same_checksum_is_a_retry(post_applied, environments):
    assert post_applied([migration("4", "ddd", status="failed")]).status_code == 201
    assert post_applied([migration("4", "ddd", status="failed")]).json()["duplicates"] == 1
    retry = post_applied([migration("4", "ddd", status="success")])
    assert retry.status_code == 201
    assert sorted(AppliedMigration.objects.values_list("status", flat=True)) == ["failed", "success"]
    # Once applied, a later report of that version and checksum (whatever its outcome) is a duplicate.
    assert post_applied([migration("4", "ddd", status="failed")]).json()["duplicates"] == 1


def test_a_failed_script_may_be_fixed_before_it_ever_succeeded(post_applied, environments):
    post_applied([migration("5", "first", status="failed")])
    assert post_applied([migration("5", "fixed")]).status_code == 201


def test_another_checksum_for_an_applied_version_is_refused_and_flagged(post_applied, environments, deployer):
    post_applied([migration("1", "aaa")])
    response = post_applied([migration("2", "bbb"), migration("1", "edited")], pipeline_run_id="run-10")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "migration_checksum_mismatch"
    assert error["fields"] == {"migrations": ["1: applied with another checksum"]}
    # Nothing else of the request: version 2 is not recorded.
    assert list(AppliedMigration.objects.values_list("version", "checksum")) == [("1", "aaa")]
    finding = MigrationMismatch.objects.get()
    assert (finding.version, finding.applied_checksum, finding.reported_checksum) == ("1", "aaa", "edited")
    assert finding.environment.slug == "staging" and finding.history.get().history_user == deployer
    event = AuditEvent.objects.get(action="environments.migration_checksum_mismatch")
    assert event.details["mismatches"] == [{"version": "1", "applied_checksum": "aaa", "reported_checksum": "edited"}]
    # Reported again: the same finding, counted.
    assert post_applied([migration("1", "edited")]).status_code == 409
    assert MigrationMismatch.objects.get().occurrences == 2


def test_two_checksums_for_one_version_in_one_report_are_a_mismatch(post_applied, environments):
    response = post_applied([migration("7", "one"), migration("7", "two")])
    assert response.status_code == 409
    assert AppliedMigration.objects.count() == 0 and MigrationMismatch.objects.count() == 1


def test_other_environments_and_services_are_separate(post_applied, environments, service, team):
    from tests.factories import ServiceFactory

    ServiceFactory(slug="ledger", owner_team=team)
    post_applied([migration("1", "aaa")], env="staging")
    assert post_applied([migration("1", "zzz")], env="dev").status_code == 201
    assert post_applied([migration("1", "zzz")], env="staging", service="ledger").status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"tool": "sqitch"}, "tool"),
    ({"migrations": []}, "migrations"),
    ({"migrations": [{"version": "1"}]}, "migrations.0.checksum"),
    ({"migrations": [{"version": "1", "checksum": "a", "status": "maybe"}]}, "migrations.0.status"),
    ({"service": "nope"}, "service"),
])
def test_bad_input_names_its_field_and_writes_nothing(pipeline, environments, body, field):
    payload = {"service": "payments-api", "environment": "staging", "tool": "flyway",
               "migrations": [migration("1")], **body}
    response = pipeline.post("/api/v1/migrations/applied/", payload, format="json")
    assert response.status_code == 400 and any(name.startswith(field) for name in response.json()["error"]["fields"])
    assert AppliedMigration.objects.count() == 0


def test_production_needs_the_deployer_privilege(api_client_for, release_manager, post_applied, environments):
    refused = post_applied([migration("1")], env="prod", client=api_client_for(release_manager))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "deployer_not_authorized"
    assert post_applied([migration("1")], env="staging", client=api_client_for(release_manager)).status_code == 201
    assert post_applied([migration("1")], env="prod").status_code == 201  # the pipeline holds it


def test_an_idempotency_key_replays(pipeline, environments):
    body = {"service": "payments-api", "environment": "staging", "tool": "flyway", "migrations": [migration("1")]}
    first = pipeline.post("/api/v1/migrations/applied/", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    again = pipeline.post("/api/v1/migrations/applied/", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert AppliedMigration.objects.count() == 1


def test_an_outsider_gets_nothing(api_client_for, outsider, post_applied, environments):
    post_applied([migration("1")])
    client = api_client_for(outsider)
    assert client.get("/api/v1/migrations/applied/").status_code == 403
    assert post_applied([migration("2")], client=client).status_code == 403
    assert AppliedMigration.objects.count() == 1


def test_members_list_applied_migrations(api_client_for, requester, post_applied, environments):
    post_applied([migration("1"), migration("2")], env="dev")
    post_applied([migration("1")], env="staging")
    listed = api_client_for(requester).get("/api/v1/migrations/applied/?environment=dev").json()
    assert listed["count"] == 2
