"""Benchmark: appending to and verifying the hash-chained audit log.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_bench .venv/bin/python bench/audit_chain.py

Appends N events (default 50,000; BENCH_EVENTS or BENCH_SCALE to change) through the audit
service, verifies the chain, and compares with a raw multi-row INSERT of the same rows into a
copy of the table, in the same run. It empties the audit table of the database it is given:
point it at a database of its own.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402


def _ensure_database() -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist yet."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    params = {"host": cfg["HOST"] or None, "port": cfg["PORT"] or None, "user": cfg["USER"] or None,
              "password": cfg["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


_ensure_database()
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from apps.audit.actor import Actor, acting_as  # noqa: E402
from apps.audit.models import AuditEvent  # noqa: E402
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many  # noqa: E402
from apps.audit.triggers import unlocked  # noqa: E402
from apps.audit.verification import verify_chain  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
EVENTS = int(os.environ.get("BENCH_EVENTS", str(int(50_000 * SCALE))))
SINGLE = min(EVENTS, int(os.environ.get("BENCH_SINGLE_EVENTS", "3000")))
BATCH = 1000
RAW_TABLE = "bench_audit_raw"
COLUMNS = ["seq", "created_at", "actor_id", "actor_type", "actor_label", "action", "object_type", "object_id",
           "object_repr", "request_id", "ip", "details", "prev_hash", "hash"]


def _empty_audit_table() -> None:
    with unlocked(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE audit_auditevent")
        else:
            cursor.execute("DELETE FROM audit_auditevent")


def _prepare_raw_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {RAW_TABLE} (LIKE audit_auditevent INCLUDING ALL)")
        else:
            cursor.execute(f"CREATE TABLE {RAW_TABLE} AS SELECT * FROM audit_auditevent WHERE 0")
            cursor.execute(f"CREATE UNIQUE INDEX {RAW_TABLE}_seq ON {RAW_TABLE} (seq)")
            cursor.execute(f"CREATE UNIQUE INDEX {RAW_TABLE}_hash ON {RAW_TABLE} (hash)")


def _events(n: int, offset: int = 0) -> list[PendingEvent]:
    return [PendingEvent(action="bench.event", object_type="changes.changerequest", object_id=str((offset + i) % 997),
                         object_repr=f"CHG-{(offset + i) % 997:06d} bench change",
                         details={"i": offset + i, "state": "approved", "stage": "cab"}) for i in range(n)]


def main() -> None:
    call_command("migrate", verbosity=0)
    actor = Actor.for_command("bench_audit_chain")
    _empty_audit_table()
    print(f"database: {connection.vendor}; events: {EVENTS:,}; single-event sample: {SINGLE:,}")

    with acting_as(actor):
        # One event per transaction: what a service call in the web tier pays.
        started = time.perf_counter()
        for i in range(SINGLE):
            with transaction.atomic():
                audit_event_record(action="bench.single", actor=actor, object_type="bench", object_id=str(i),
                                   details={"i": i})
        single_s = time.perf_counter() - started
        _empty_audit_table()

        # Batches through the service: bulk operations (campaigns, imports) append this way.
        started = time.perf_counter()
        for offset in range(0, EVENTS, BATCH):
            audit_events_record_many(events=_events(min(BATCH, EVENTS - offset), offset), actor=actor)
        batched_s = time.perf_counter() - started

    # Raw multi-row INSERT of exactly the same rows (already hashed) into a copy of the table.
    _prepare_raw_table()
    rows = list(AuditEvent.objects.order_by("seq").values_list(*COLUMNS))
    import json

    rows = [(*r[:11], json.dumps(r[11]), r[12], r[13]) for r in rows]
    placeholders = "(" + ",".join(["%s"] * len(COLUMNS)) + ")"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for offset in range(0, len(rows), BATCH):
            chunk = rows[offset:offset + BATCH]
            sql = f"INSERT INTO {RAW_TABLE} ({','.join(COLUMNS)}) VALUES " + ",".join([placeholders] * len(chunk))
            cursor.execute(sql, [v for row in chunk for v in row])
    raw_s = time.perf_counter() - started

    started = time.perf_counter()
    report = verify_chain()
    verify_s = time.perf_counter() - started
    assert report.ok and report.checked == EVENTS, report

    single_rate = SINGLE / single_s
    batched_rate = EVENTS / batched_s
    raw_rate = EVENTS / raw_s
    verify_rate = EVENTS / verify_s
    print(f"append, one event per transaction : {single_rate:>10,.0f} events/s  ({single_rate / raw_rate:.1%} of raw insert)")
    print(f"append, batches of {BATCH} (service)  : {batched_rate:>10,.0f} events/s  ({batched_rate / raw_rate:.1%} of raw insert)")
    print(f"raw multi-row INSERT, same rows   : {raw_rate:>10,.0f} events/s  (baseline)")
    print(f"verify chain                      : {verify_rate:>10,.0f} events/s  ({report.checked:,} events, intact; "
          f"{report.rechecked:,} re-hashed in Python)")
    print(f"aim: batched append >= 25% of raw -> {'met' if batched_rate >= 0.25 * raw_rate else 'NOT met'}; "
          f"verify >= 100,000/s -> {'met' if verify_rate >= 100_000 else 'NOT met'}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")


if __name__ == "__main__":
    main()
