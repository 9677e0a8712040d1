"""Two (or ten) identical reports at once record each migration once: the unique constraints
hold it, the loser of the race answers as a duplicate. Two different checksums at once: one is
applied, the other refused as a mismatch."""

from __future__ import annotations

import pytest

from apps.environments import services
from apps.environments.models import AppliedMigration, MigrationMismatch
from releaseportal.errors import Conflict
from tests.concurrency import race

REPORT = [{"version": "1", "description": "a", "checksum": "aaa", "status": "success"},
          {"version": "2", "description": "b", "checksum": "bbb", "status": "success"}]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_reports_at_once_record_each_migration_once(deployer, service, environments):
    def report(_):
        result = services.migrations_record(service=service, environment=environments["staging"], tool="flyway",
                                            migrations=REPORT, actor=deployer)
        return len(result.created), result.duplicates

    results = race(10, report)
    assert AppliedMigration.objects.count() == 2
    assert sorted(results) == [(0, 2)] * 9 + [(2, 0)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_checksums_at_once_one_applies_and_one_is_a_mismatch(deployer, service, environments):
    def report(i):
        try:
            services.migrations_record(service=service, environment=environments["staging"], tool="flyway",
                                       migrations=[{"version": "9", "checksum": f"sum-{i}"}], actor=deployer)
        except Conflict as exc:
            return exc.code
        return "applied"

    assert sorted(race(2, report)) == ["applied", "migration_checksum_mismatch"]
    assert AppliedMigration.objects.count() == 1 and MigrationMismatch.objects.count() == 1
