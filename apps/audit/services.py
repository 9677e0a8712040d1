"""Writing the audit log: the only code that inserts AuditEvent rows.

Every service that changes state calls `audit_event_record` inside its own transaction, so the
event commits or rolls back with the change. Appends are serialised: on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by its single writer (transactions start
IMMEDIATE, see settings), so concurrent writers never fork or gap the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from .actor import Actor, current_request_context, resolve_actor
from .chain import event_payload, link_hash, normalise_details
from .models import GENESIS_HASH, AuditEvent

# An arbitrary, fixed 64-bit key for pg_advisory_xact_lock: "RPAUDIT1".
_CHAIN_LOCK_KEY = 0x5250415544495431


@dataclass
class PendingEvent:
    action: str
    target: Model | None = None
    details: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""


def object_label(obj: Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def _lock_chain_and_read_head() -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, GENESIS_HASH)


def _build(event: PendingEvent, *, seq: int, prev_hash: str, actor: Actor, now, request_id: str, ip: str) -> AuditEvent:
    target = event.target
    object_type = event.object_type or (object_label(target) if target is not None else "")
    object_id = event.object_id or (str(target.pk) if target is not None else "")
    object_repr = (event.object_repr or (str(target) if target is not None else ""))[:300]
    details = normalise_details(event.details or {})
    actor_id = actor.user.pk if actor.user is not None else None
    payload = event_payload(
        seq=seq, created_at=now, actor_id=actor_id, actor_type=actor.kind, actor_label=actor.label[:150],
        action=event.action, object_type=object_type, object_id=object_id, object_repr=object_repr,
        request_id=request_id, ip=ip, details=details,
    )
    return AuditEvent(
        seq=seq, created_at=now, actor_id=actor_id, actor_type=actor.kind, actor_label=actor.label[:150],
        action=event.action, object_type=object_type, object_id=object_id, object_repr=object_repr,
        request_id=request_id, ip=ip, details=details, prev_hash=prev_hash, hash=link_hash(prev_hash, payload),
    )


def audit_events_record_many(*, events: Iterable[PendingEvent], actor: Actor | Any | None = None) -> list[AuditEvent]:
    """Append several events as consecutive links, with one lock and one multi-row insert."""
    resolved = resolve_actor(actor)
    ctx = current_request_context()
    request_id = ctx.request_id if ctx else ""
    ip = ctx.ip if ctx else ""
    # Inside the caller's transaction a savepoint buys nothing (a failed append must abort the
    # whole change) and costs two round trips while the chain lock is held.
    with transaction.atomic(savepoint=False):
        seq, prev_hash = _lock_chain_and_read_head()
        # Taken after the lock, so times never run backwards along the chain.
        now = timezone.now()
        rows = []
        for event in events:
            seq += 1
            row = _build(event, seq=seq, prev_hash=prev_hash, actor=resolved, now=now, request_id=request_id, ip=ip)
            prev_hash = row.hash
            rows.append(row)
        AuditEvent.objects.bulk_create(rows, batch_size=2000)
    return rows


def audit_event_record(*, action: str, target: Model | None = None, actor: Actor | Any | None = None,
                       details: dict[str, Any] | None = None, object_type: str = "", object_id: str = "",
                       object_repr: str = "") -> AuditEvent:
    """Append one event. `target` names the object; or pass object_type/object_id/object_repr."""
    event = PendingEvent(action=action, target=target, details=details or {}, object_type=object_type,
                         object_id=str(object_id), object_repr=object_repr)
    return audit_events_record_many(events=[event], actor=actor)[0]


def audit_events_imported(records: Iterable[Model], *, action, actor_id_of, occurred_at_of,
                          repr_of=None, details_of=None, batch_size: int = 2000) -> int:
    """One event per record brought in without going through its services (the demo
    organisation's year of history; a bulk import). Each names its record, the person or service
    account that acted, and when it happened (`occurred_at`); the chain's own times are those of
    the import, since links never run backwards. Appended in batches, grouped by actor.
    `action` is a string or a function of the record."""
    from apps.accounts.models import User

    by_actor: dict[int | None, list[PendingEvent]] = {}
    for record in records:
        details = {"imported": True, "occurred_at": occurred_at_of(record)}
        if details_of is not None:
            details.update(details_of(record))
        by_actor.setdefault(actor_id_of(record), []).append(PendingEvent(
            action=action(record) if callable(action) else action, details=details, object_type=object_label(record), object_id=str(record.pk),
            object_repr=(repr_of(record) if repr_of else f"{record._meta.verbose_name} #{record.pk}")[:300]))
    users = User.objects.in_bulk([pk for pk in by_actor if pk is not None])
    written = 0
    for actor_id, events in by_actor.items():
        actor = Actor.for_user(users[actor_id]) if actor_id in users else Actor.system("import")
        for start in range(0, len(events), batch_size):
            written += len(audit_events_record_many(events=events[start:start + batch_size], actor=actor))
    return written
