"""The read replica router (releaseportal/dbrouter.py) against a real streaming replica.

Needs PostgreSQL and DATABASE_REPLICA_URL naming a streaming replica of DATABASE_URL's server
(`.ci/run` sets one up on port 5433 with deploy/replica/setup-local-replica.sh). pytest creates
the test database on the primary; the replica receives it by streaming, so these tests point the
`replica` alias (a test mirror of `default` everywhere else) at the replica's copy of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connections, transaction
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.catalog.models import Service
from releaseportal import dbrouter
from releaseportal.dbrouter import read_alias, replica_reads, replica_status, reset_replica_status
from tests.factories import ServiceFactory, TeamFactory

SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "replica" / "setup-local-replica.sh"

pytestmark = [
    pytest.mark.postgres,
    # Without the alias the django_db marker below could not even be set up: skip first, saying why.
    pytest.mark.skipif("replica" not in django_settings.DATABASES,
                       reason="needs a streaming read replica: set DATABASE_REPLICA_URL "
                              "(deploy/replica/setup-local-replica.sh makes one on port 5433)"),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def streaming_replica():
    """The `replica` alias pointed at the replica server's copy of the test database."""
    if "replica" not in django_settings.DATABASES:
        pytest.skip("needs a streaming read replica: set DATABASE_REPLICA_URL "
                    "(deploy/replica/setup-local-replica.sh makes one on port 5433)")
    conn = connections["replica"]
    mirror = conn.settings_dict
    # tests/conftest.py made the alias a whole mirror of the primary; TEST["SERVER"] keeps the
    # replica server it was configured with.
    real = {**mirror, **mirror["TEST"]["SERVER"]}
    conn.close()
    conn.settings_dict = {**real, "NAME": connections["default"].settings_dict["NAME"],
                          "TEST": {**real["TEST"], "MIRROR": "default"}}
    reset_replica_status()
    try:
        _wait_for(_tables_on_replica, "the test database's tables on the replica", timeout=300)
        yield conn
    finally:
        conn.close()
        # Back to the mirror of the test database, marked as one so the test case's flush does
        # not empty the same database twice.
        conn.settings_dict = {**mirror, "TEST": {**mirror["TEST"], "MIRROR": "default"}}
        reset_replica_status()


def _tables_on_replica() -> bool:
    """Whether the replica has the test database's tables (False while it is still starting:
    the down test restarts it without waiting)."""
    try:
        return bool(_on_replica("SELECT to_regclass('catalog_service') IS NOT NULL"))
    except OperationalError:
        connections["replica"].close()
        return False


def _replayed_all_the_primary_wrote() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    return bool(_on_replica("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]))


def _on_replica(sql: str, params=()):
    with connections["replica"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _visible_in_scope(pk: int) -> bool:
    with replica_reads():
        return Service.objects.filter(pk=pk).exists()


def test_scoped_reads_go_to_the_replica_writes_and_other_reads_to_the_primary(streaming_replica):
    service = ServiceFactory(slug="replicated")

    # Outside a scope: the primary, which sees the row at once.
    assert read_alias(Service) == "default"
    with CaptureQueriesContext(connections["default"]) as primary_q:
        assert Service.objects.filter(pk=service.pk).exists()
    assert len(primary_q) == 1

    with replica_reads():
        assert read_alias(Service) == "replica"
        with connections[read_alias(Service)].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
            in_recovery, port = cursor.fetchone()
        assert in_recovery is True
        assert str(port) == str(django_settings.DATABASES["replica"]["TEST"]["SERVER"]["PORT"])
        # An ORM read inside the scope runs on the replica connection, not on the primary's.
        with CaptureQueriesContext(connections["replica"]) as replica_q, \
                CaptureQueriesContext(connections["default"]) as primary_q:
            list(Service.objects.filter(slug="nothing-such"))
        assert len(replica_q) == 1 and len(primary_q) == 0
        # Identity and access are governance reads: always the primary.
        assert read_alias(User) == "default"
        # A write inside the scope goes to the primary (the replica would refuse it: read-only),
        # and reads inside a transaction on the primary stay there (read-your-writes).
        with transaction.atomic():
            written = ServiceFactory(slug="written-in-scope", owner_team=service.owner_team)
            assert read_alias(Service) == "default"
            assert Service.objects.filter(pk=written.pk).exists()
    assert Service.objects.filter(slug="written-in-scope").exists()

    # The rows written on the primary reach the replica by streaming.
    _wait_for(lambda: _visible_in_scope(written.pk), "the row on the replica", timeout=30)
    assert _on_replica("SELECT count(*) FROM catalog_service WHERE slug = %s", ["written-in-scope"]) == 1
    status = replica_status()
    assert status.usable and status.reason == "ok"


def test_a_lagging_replica_is_not_read(streaming_replica, settings):
    team = TeamFactory(slug="lag")
    with replica_reads():
        assert read_alias(Service) == "replica"
    # Pause only once the replica has replayed everything so far: paused in the middle of the
    # previous test's flush, it would hold that TRUNCATE's lock on the tables and every read of
    # them would wait for a replay that never comes.
    _wait_for(_replayed_all_the_primary_wrote, "the replica to replay the primary's WAL")
    _on_replica("SELECT pg_wal_replay_pause()")
    try:
        late = ServiceFactory(slug="written-while-paused", owner_team=team)
        _wait_for(lambda: _on_replica("SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"),
                  "the replica to receive WAL it does not replay")

        # Within the limit: still the replica, which does not have the row yet.
        settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
        reset_replica_status()
        assert not _visible_in_scope(late.pk)

        # A scope that must be as fresh as the primary gives up waiting and reads the primary.
        settings.DATABASE_REPLICA_CATCH_UP_SECONDS = 0.5
        with replica_reads(caught_up=True):
            assert read_alias(Service) == "default"
            assert Service.objects.filter(pk=late.pk).exists()

        # Beyond the limit: the primary, without an error, and the row is there.
        settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0
        time.sleep(0.2)
        reset_replica_status()
        assert _visible_in_scope(late.pk)
        with replica_reads():
            assert read_alias(Service) == "default"
        status = replica_status()
        assert not status.usable and status.lag_seconds > 0 and "lags" in status.reason
    finally:
        _on_replica("SELECT pg_wal_replay_resume()")

    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    reset_replica_status()
    _wait_for(lambda: _visible_in_scope(late.pk), "the replica to catch up")
    with replica_reads(caught_up=True):
        assert read_alias(Service) == "replica"


def test_pages_that_only_show_data_read_the_replica(streaming_replica, client, executive, auditor):
    ServiceFactory(slug="shown")
    _wait_for(lambda: _on_replica("SELECT count(*) FROM catalog_service WHERE slug = 'shown'"), "the data on the replica")
    for user, url in ((executive, "/reports/"), (executive, "/"), (auditor, "/audit/log/")):
        client.force_login(user)
        with CaptureQueriesContext(connections["replica"]) as replica_q, \
                CaptureQueriesContext(connections["default"]) as primary_q:
            response = client.get(url)
        assert response.status_code == 200, url
        assert len(replica_q) > 0, url
        # Sessions, the user and their roles are read from the primary.
        assert any("accounts_portalsession" in q["sql"] for q in primary_q.captured_queries), url
        assert not any("accounts_portalsession" in q["sql"] for q in replica_q.captured_queries), url
    # Outside those pages nothing reads the replica.
    with CaptureQueriesContext(connections["replica"]) as replica_q:
        assert client.get("/reports/runs/").status_code == 200
    assert len(replica_q) == 0


def test_an_evidence_pack_is_built_from_the_replica_once_it_caught_up(streaming_replica, auditor, settings):
    from apps.audit.evidence import evidence_pack_request

    settings.DATABASE_REPLICA_CATCH_UP_SECONDS = 30
    with CaptureQueriesContext(connections["replica"]) as replica_q:
        # The request commits, then its (eager) task builds the pack: the request's own rows
        # are on the primary only until the replica replays them, which the build waits for.
        pack = evidence_pack_request(scope="control_period", actor=auditor, data={
            "control": "sox_change_management", "period_start": "2026-07-01", "period_end": "2026-07-31"})
    pack.refresh_from_db()
    assert pack.status == "ready", pack.error
    sqls = [q["sql"] for q in replica_q.captured_queries]
    assert any("pg_last_wal_replay_lsn" in sql for sql in sqls)
    assert any("cursor_tuple_fraction" in sql for sql in sqls)
    assert any("delivery_deployment" in sql for sql in sqls)  # the pack's population


def test_a_replica_that_is_down_is_not_read(streaming_replica):
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster"):
        pytest.skip("stopping the replica needs root and Debian's pg_ctlcluster")
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    port = str(django_settings.DATABASES["replica"]["TEST"]["SERVER"]["PORT"])
    if not any(line.split()[1:3] == ["replica", port] for line in listed.splitlines() if line.strip()):
        pytest.skip(f"the replica on port {port} is not the cluster setup-local-replica.sh manages")
    service = ServiceFactory(slug="while-down")
    with replica_reads():
        assert read_alias(Service) == "replica"

    subprocess.run([str(SETUP_SCRIPT), "stop"], check=True, capture_output=True)
    try:
        connections["replica"].close()
        # The health check still says "usable" (it is cached): this scope's own connection
        # fails, and the scope reads the primary without an error.
        with replica_reads():
            assert read_alias(Service) == "default"
            assert Service.objects.get(pk=service.pk).slug == "while-down"
        status = replica_status()
        assert not status.usable and status.reason.startswith("unreachable")
        # A fresh check finds it down too; the failure is remembered until the next check.
        reset_replica_status()
        assert _visible_in_scope(service.pk)
        status = replica_status()
        assert not status.usable and status.reason.startswith("unreachable")
        assert dbrouter._status is status
    finally:
        connections["replica"].close()
        # Replaying from its last restartpoint takes a while on a slow disk; the replication
        # slot keeps the WAL it needs, and setup-local-replica.sh waits for it next time.
        subprocess.run([str(SETUP_SCRIPT), "start-no-wait"], check=True, capture_output=True)
