"""On PostgreSQL the append-only triggers open only for a superuser or a member of the
maintenance role: the application's ordinary role cannot unlock them with a session setting."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from apps.audit import triggers
from apps.audit.models import AuditEvent, ChainCheckpoint
from apps.audit.services import audit_event_record
from releaseportal.errors import NotAllowed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Roles are cluster-wide: named after this worktree's database so parallel runs never meet.
ORDINARY = "rp_audit_h_test_app"
MAINTAINER = "rp_audit_h_test_maint"
MAINTENANCE_ROLE = "rp_audit_h_test_maintenance"
TABLES = ("audit_auditevent", "audit_chaincheckpoint", "catalog_historicalservice")


def _drop_roles(cursor) -> None:
    for role in (ORDINARY, MAINTAINER, MAINTENANCE_ROLE):
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.fixture
def roles(settings):
    """An ordinary login like the one the portal serves with (table rights, no ownership), and
    a login that is a member of the maintenance role."""
    settings.AUDIT_MAINTENANCE_ROLE = MAINTENANCE_ROLE
    with connection.cursor() as cursor:
        _drop_roles(cursor)
        cursor.execute(f"CREATE ROLE {MAINTENANCE_ROLE} NOLOGIN")
        for role in (ORDINARY, MAINTAINER):
            cursor.execute(f"CREATE ROLE {role} LOGIN")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {', '.join(TABLES)} TO {role}")
        cursor.execute(f"GRANT {MAINTENANCE_ROLE} TO {MAINTAINER}")
    triggers.install()  # the role name is part of the trigger function
    yield
    settings.AUDIT_MAINTENANCE_ROLE = "rp_audit_maintenance"
    triggers.install()
    with connection.cursor() as cursor:
        _drop_roles(cursor)


def _connect(role: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(host=params["HOST"] or "127.0.0.1", port=params["PORT"] or 5432, dbname=params["NAME"],
                           user=role)


@pytest.fixture
def events(requester, service):
    audit_event_record(action="test.one", actor=requester)
    head = audit_event_record(action="test.two", actor=requester)
    ChainCheckpoint.objects.create(seq=1, hash=head.prev_hash, created_at=head.created_at, reason="r")
    service.name = "Renamed"
    service.save()  # a second history row


ATTEMPTS = [
    "UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 1",
    "DELETE FROM audit_auditevent WHERE seq = 2",
    "TRUNCATE audit_auditevent",
    "UPDATE audit_chaincheckpoint SET seq = 2",
    "DELETE FROM audit_chaincheckpoint",
    "DELETE FROM catalog_historicalservice",
]


@pytest.mark.parametrize("statement", ATTEMPTS)
def test_an_ordinary_role_cannot_unlock_the_triggers_with_set_local(roles, events, statement):
    with _connect(ORDINARY) as conn, conn.cursor() as cursor:
        cursor.execute(f"SET LOCAL {triggers.UNLOCK_SETTING} = 'on'")
        cursor.execute(f"SET {triggers.UNLOCK_SETTING} = 'on'")  # nor for the whole session
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 2 and ChainCheckpoint.objects.get().seq == 1


def test_a_temporary_pg_roles_table_does_not_make_an_ordinary_role_a_superuser(roles, events):
    with _connect(ORDINARY) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE pg_roles (rolname name, rolsuper boolean)")
        cursor.execute("INSERT INTO pg_roles VALUES (current_user, true)")
        cursor.execute(f"SET LOCAL {triggers.UNLOCK_SETTING} = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            cursor.execute("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 2


def test_an_ordinary_role_is_refused_the_maintenance_procedure_up_front(roles, events):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {ORDINARY}")
    try:
        assert not triggers.may_unlock()
        with pytest.raises(NotAllowed, match=MAINTENANCE_ROLE), triggers.unlocked():
            AuditEvent.objects.filter(seq=1).delete()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.count() == 2


def test_a_member_of_the_maintenance_role_may_unlock_for_sanctioned_maintenance(roles, events):
    with _connect(MAINTAINER) as conn, conn.cursor() as cursor:
        cursor.execute(f"SET LOCAL {triggers.UNLOCK_SETTING} = 'on'")
        cursor.execute("DELETE FROM catalog_historicalservice")
        assert cursor.rowcount == 2
        conn.rollback()
        # …and only with the setting, inside its own transaction.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cursor.execute("DELETE FROM catalog_historicalservice")


def test_the_superuser_keeps_the_test_flush_and_the_purge_paths(roles, events):
    assert triggers.may_unlock()  # the test runner connects as the superuser postgres
    with pytest.raises(RuntimeError), triggers.unlocked():
        assert ChainCheckpoint.objects.all().delete()[0] == 1
        raise RuntimeError("roll back")
    assert ChainCheckpoint.objects.count() == 1
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ChainCheckpoint.objects.all().delete()  # without unlocking, even the superuser is refused
