"""Read replica routing (DATABASE_REPLICA_URL): reads go to the replica only where they ask to.

Every write, and every read outside a read-intent scope, goes to the primary: governance
decisions (the gate, approvals, segregation of duties, access checks, the audit chain's head)
never see stale data. Code that only *shows* data opts in with

    with replica_reads():            # or @replica_reads() on a view or function
        report = cached_report(month, scope)

(the report pages and PDFs, the home dashboards, the audit log search and evidence-pack builds).
Inside the scope the router still keeps on the primary:
  - identity and access (sessions, users, groups, tokens, object permissions: PRIMARY_ONLY_APPS),
    so a revoked session, role or token is refused at once;
  - every read made inside a transaction on the primary (it may feed a write: read-your-writes).

The replica serves a scope only when it is healthy, decided once per scope (so one page or pack
reads one database, never a mix of two points in time): it answers, and its replay lag is at
most DATABASE_REPLICA_MAX_LAG_SECONDS. Otherwise the scope reads the primary, without an error.
The health check costs one query per process every DATABASE_REPLICA_CHECK_SECONDS.

`replica_reads(caught_up=True)` (evidence packs, generated report runs) also waits, up to
DATABASE_REPLICA_CATCH_UP_SECONDS, until the replica has replayed everything the primary had
written when the scope began, so the result is as of that instant; otherwise the primary.

Lag (PostgreSQL, on the replica): 0 when it is not in recovery (a promoted or stand-alone
server), or when a WAL receiver is running and has replayed all it received (an idle primary
writes nothing, so `now() - pg_last_xact_replay_timestamp()` would grow without any lag);
otherwise `now() - pg_last_xact_replay_timestamp()`, and unknown (treated as too old) when
nothing was replayed yet. A replica configured to the same server and database as the primary
(the test mirror) is the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
# Identity and access: always read from the primary, in or out of a scope.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "accounts", "guardian", "contenttypes", "admin"})

LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE
         WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() IS NOT NULL
              AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
              AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN 0
         ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
       END
"""


@dataclass
class _Scope:
    caught_up: bool
    alias: str | None = None  # decided at the first read


_scope: ContextVar[_Scope | None] = ContextVar("replica_reads", default=None)


@dataclass(frozen=True)
class ReplicaStatus:
    usable: bool
    lag_seconds: float | None
    reason: str
    checked_at: float  # time.monotonic()


_status: ReplicaStatus | None = None
_status_lock = threading.Lock()


def _max_lag() -> float:
    return float(getattr(settings, "DATABASE_REPLICA_MAX_LAG_SECONDS", 30))


def _check_interval() -> float:
    return float(getattr(settings, "DATABASE_REPLICA_CHECK_SECONDS", 5))


def replica_configured() -> bool:
    """A replica alias that is a different database from the primary's."""
    if REPLICA not in settings.DATABASES:
        return False
    primary, replica = connections[PRIMARY].settings_dict, connections[REPLICA].settings_dict
    same = all(str(primary.get(k) or "") == str(replica.get(k) or "") for k in ("HOST", "PORT", "NAME"))
    return not same


def reset_replica_status() -> None:
    """Forget the cached health check (tests; after reconfiguring the replica alias)."""
    global _status
    with _status_lock:
        _status = None


def _measure() -> ReplicaStatus:
    now = time.monotonic()
    conn = connections[REPLICA]
    try:
        if conn.vendor != "postgresql":
            conn.ensure_connection()
            return ReplicaStatus(True, 0.0, "no lag measure for this database", now)
        with conn.cursor() as cursor:
            cursor.execute(LAG_SQL)
            _in_recovery, lag = cursor.fetchone()
    except DatabaseError as exc:
        conn.close_if_unusable_or_obsolete()
        return ReplicaStatus(False, None, f"unreachable: {str(exc).strip()[:200]}", now)
    if lag is None:
        return ReplicaStatus(False, None, "nothing replayed yet and not caught up", now)
    lag = max(0.0, float(lag))
    if lag > _max_lag():
        return ReplicaStatus(False, lag, f"lags {lag:.1f} s (limit {_max_lag():g} s)", now)
    return ReplicaStatus(True, lag, "ok", now)


def replica_status(*, refresh: bool = False) -> ReplicaStatus | None:
    """The replica's health, measured at most every DATABASE_REPLICA_CHECK_SECONDS per process
    (None when no replica is configured)."""
    global _status
    if not replica_configured():
        return None
    status = _status
    if refresh or status is None or time.monotonic() - status.checked_at >= _check_interval():
        status = _measure()
        with _status_lock:
            previous, _status = _status, status
        if not status.usable and (previous is None or previous.usable):
            logger.warning("read replica not used, reads go to the primary: %s", status.reason)
        elif status.usable and previous is not None and not previous.usable:
            logger.info("read replica back in use (lag %.1f s)", status.lag_seconds or 0.0)
    return status


def _mark_down(reason: str) -> None:
    global _status
    with _status_lock:
        _status = ReplicaStatus(False, None, reason, time.monotonic())
    logger.warning("read replica not used, reads go to the primary: %s", reason)


def _caught_up(timeout: float) -> bool:
    """Whether the replica replays, within `timeout` seconds, all the primary has written now."""
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    with connections[REPLICA].cursor() as cursor:
        while True:
            cursor.execute("SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _choose(scope: _Scope) -> str:
    status = replica_status()
    if status is None or not status.usable:
        return PRIMARY
    try:
        # The cached check may be seconds old: this scope's own connection must open.
        connections[REPLICA].ensure_connection()
        if scope.caught_up and connections[REPLICA].vendor == "postgresql":
            timeout = float(getattr(settings, "DATABASE_REPLICA_CATCH_UP_SECONDS", 5))
            if not _caught_up(timeout):
                logger.info("read replica did not catch up with the primary in %g s: reading the primary", timeout)
                return PRIMARY
    except DatabaseError as exc:
        connections[REPLICA].close_if_unusable_or_obsolete()
        _mark_down(f"unreachable: {str(exc).strip()[:200]}")
        return PRIMARY
    return REPLICA


@contextmanager
def replica_reads(*, caught_up: bool = False) -> Iterator[None]:
    """Read-intent scope (context manager or decorator): reads inside it may be served by the
    replica (module docstring). Nested scopes share the outermost one's database."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set(_Scope(caught_up=caught_up))
    try:
        yield
    finally:
        _scope.reset(token)


def read_alias(model=None) -> str:
    """The alias a read of `model` (any model when None) goes to here: for raw SQL."""
    return router.db_for_read(model) if model is not None else ReplicaRouter().db_for_read(None)


def read_staleness() -> timedelta:
    """How old, at most, the data read here may be: zero on the primary; on the replica the lag
    limit plus the age of the health check (lag grows at most one second per second)."""
    scope = _scope.get()
    if scope is None or scope.alias != REPLICA:
        return timedelta(0)
    if scope.caught_up:
        return timedelta(0)
    return timedelta(seconds=_max_lag() + _check_interval())


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: the primary for writes and ordinary reads, the replica for
    reads inside replica_reads() while it is healthy."""

    def db_for_read(self, model, **hints):
        scope = _scope.get()
        if scope is None:
            return PRIMARY
        if model is not None and model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        if scope.alias is None:
            scope.alias = _choose(scope) if replica_configured() else PRIMARY
        return scope.alias

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None
