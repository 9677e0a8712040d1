"""Append-only at the database: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)
on the audit table, the chain checkpoints and every history table.

They are (re)installed after every `migrate`, so a history table added by any app is covered
without a migration of its own. Sanctioned maintenance (the retention purge, the test
runner's flush) opens `unlocked()`: on PostgreSQL a transaction-local setting that the trigger
honours only for a superuser or a member of the maintenance role
(settings.AUDIT_MAINTENANCE_ROLE), so the application's ordinary role cannot unlock anything
by setting it; maintenance runs as that role (`DATABASE_URL` of the maintenance login), and
every purge leaves its tombstone in the chain. On SQLite (one embedded file, no roles) a row
in `rp_audit_unlock`. The triggers stop mistakes and tampering by the application's own role;
the hash chain, and its head anchored outside the database (apps.audit.anchors), is what
proves the log intact. The application's role must not own these tables (an owner can drop
triggers): migrate as the owner, serve as a role granted SELECT/INSERT/UPDATE/DELETE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection, transaction

from releaseportal.errors import NotAllowed

UNLOCK_SETTING = "releaseportal.audit_unlock"
SQLITE_UNLOCK_TABLE = "rp_audit_unlock"

# Who may unlock on PostgreSQL: a superuser, or a member of the maintenance role (when that
# role exists). Evaluated for `current_user` inside the trigger, so no session setting, SET
# LOCAL or SET ROLE the application's own role can reach opens the tables. Every name is
# schema-qualified and the function pins its search_path: a temporary table called pg_roles
# (pg_temp is searched first for relations) must not answer the question.
_PG_PRIVILEGED = """(
        EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = current_user AND rolsuper)
        OR CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {role})
                THEN pg_catalog.pg_has_role(current_user, {role}, 'MEMBER') ELSE false END
    )"""

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION rp_append_only() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.current_setting('{setting}', true) = 'on' AND {privileged} THEN
        IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        IF TG_LEVEL = 'ROW' THEN RETURN NEW; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def maintenance_role() -> str:
    return settings.AUDIT_MAINTENANCE_ROLE


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_function() -> str:
    privileged = _PG_PRIVILEGED.format(role=_pg_literal(maintenance_role()))
    return _PG_FUNCTION.format(setting=UNLOCK_SETTING, privileged=privileged)


def may_unlock(using_connection=None) -> bool:
    """Whether this connection's role may open the append-only tables (always on SQLite)."""
    conn = using_connection or connection
    if conn.vendor != "postgresql":
        return True
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT {_PG_PRIVILEGED.format(role='%s')}", [maintenance_role(), maintenance_role()])
        return bool(cursor.fetchone()[0])


def protected_tables() -> list[str]:
    tables = ["audit_auditevent", "audit_chaincheckpoint"]
    for model in django_apps.get_models():
        # Historical models built by django-simple-history carry `instance_type`.
        if hasattr(model, "instance_type") and model.__name__.startswith("Historical"):
            tables.append(model._meta.db_table)
    return sorted(set(tables))


def install(using_connection=None) -> list[str]:
    conn = using_connection or connection
    tables = protected_tables()
    existing = set(conn.introspection.table_names())
    tables = [t for t in tables if t in existing]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(_pg_function())
            for table in tables:
                q = conn.ops.quote_name(table)
                cursor.execute(f"DROP TRIGGER IF EXISTS rp_append_only_row ON {q}")
                cursor.execute(f"DROP TRIGGER IF EXISTS rp_append_only_truncate ON {q}")
                cursor.execute(f"CREATE TRIGGER rp_append_only_row BEFORE UPDATE OR DELETE ON {q} "
                               "FOR EACH ROW EXECUTE FUNCTION rp_append_only()")
                cursor.execute(f"CREATE TRIGGER rp_append_only_truncate BEFORE TRUNCATE ON {q} "
                               "FOR EACH STATEMENT EXECUTE FUNCTION rp_append_only()")
        elif conn.vendor == "sqlite":
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {SQLITE_UNLOCK_TABLE} (flag INTEGER)")
            for table in tables:
                q = conn.ops.quote_name(table)
                for op in ("UPDATE", "DELETE"):
                    name = conn.ops.quote_name(f"rp_append_only_{op.lower()}_{table}")
                    cursor.execute(
                        # Names come from Django models, never from input.
                        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {op} ON {q} "  # noqa: S608
                        f"WHEN NOT EXISTS (SELECT 1 FROM {SQLITE_UNLOCK_TABLE}) "
                        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {op} refused'); END"
                    )
    return tables


def unlock_statements(vendor: str) -> tuple[list[str], list[str]]:
    """SQL to run before and after a sanctioned bulk removal in the same transaction."""
    if vendor == "postgresql":
        return [f"SET LOCAL {UNLOCK_SETTING} = 'on'"], [f"SET LOCAL {UNLOCK_SETTING} = 'off'"]
    if vendor == "sqlite":
        return [f"INSERT INTO {SQLITE_UNLOCK_TABLE} (flag) VALUES (1)"], [f"DELETE FROM {SQLITE_UNLOCK_TABLE}"]  # noqa: S608
    return [], []


@contextmanager
def unlocked() -> Iterator[None]:
    """Sanctioned maintenance: the caller writes the tombstone audit event inside. Refused up
    front on PostgreSQL unless the connection's role is the maintenance role or a superuser."""
    if not may_unlock():
        raise NotAllowed(f"Maintenance of the audit and history tables runs as the database role "
                         f"{maintenance_role()} (or a superuser); this connection's role may not unlock them.",
                         code="maintenance_role_required")
    before, after = unlock_statements(connection.vendor)
    with transaction.atomic():
        with connection.cursor() as cursor:
            for sql in before:
                cursor.execute(sql)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for sql in after:
                    cursor.execute(sql)
