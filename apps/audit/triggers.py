"""Append-only at the database: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)
on the audit table and every history table.

They are (re)installed after every `migrate`, so a history table added by any app is covered
without a migration of its own. Sanctioned maintenance (the retention purge, the test
runner's flush) opens `unlocked()`: on PostgreSQL a transaction-local setting, on SQLite a
row in `rp_audit_unlock`. The triggers stop mistakes and casual tampering by the
application's own role; the hash chain is what proves the log intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps as django_apps
from django.db import connection, transaction

UNLOCK_SETTING = "releaseportal.audit_unlock"
SQLITE_UNLOCK_TABLE = "rp_audit_unlock"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION rp_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{UNLOCK_SETTING}', true) = 'on' THEN
        IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        IF TG_LEVEL = 'ROW' THEN RETURN NEW; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def protected_tables() -> list[str]:
    tables = ["audit_auditevent"]
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
            cursor.execute(_PG_FUNCTION)
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
