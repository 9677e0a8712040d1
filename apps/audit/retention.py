"""Retention policies, legal holds and the sanctioned purge.

A record may be purged only when its retention period has ended (counted from the policy's
event: closure, last in effect, creation) and no active legal hold covers it. A refused purge
raises with the reason and leaves a `retention.purge_refused` audit event; a purge deletes the
live rows and their history (inside `triggers.unlocked()`, the one sanctioned way past the
append-only triggers) and leaves a `retention.purged` tombstone naming what went and why.

Every record class with a policy is purged here the same way (apps/audit/record_classes.py):
the record, the rows that belong to it, all their history and the stored files they point at.
A record another one still needs (a change a deployment ran under) is refused, naming it.

Audit events themselves are never purged record by record; they go only as a prefix of the
chain, and only when the whole chain verifies: a ChainCheckpoint records the sequence and hash
the purged prefix ended at, a signed purge anchor in the archive storage vouches for it
(apps.audit.anchors), and verification starts from there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .actor import resolve_actor
from .anchors import PURGE, chain_anchor_write
from .models import AuditEvent, ChainCheckpoint, LegalHold, RecordClass, RetentionPolicy
from .permissions import can_manage_retention
from .record_classes import SPECS, purge_rows
from .services import audit_event_record
from .triggers import maintenance_role, may_unlock, unlocked
from .verification import audit_trail_verify

DEFAULT_YEARS = 7
BUILTIN_SCOPED_YEARS = {"sox": 7, "hipaa": 6}


# --- policies ---------------------------------------------------------------------------

def _policies() -> dict[tuple[str, str], RetentionPolicy]:
    return {(p.record_class, p.compliance_scope): p for p in RetentionPolicy.objects.all()}


def retention_policies() -> dict[tuple[str, str], RetentionPolicy]:
    """Every policy by (record class, compliance scope): read once to decide many records."""
    return _policies()


def retention_rule(record_class: str, scopes: list[str] | None,
                   policies: dict[tuple[str, str], RetentionPolicy] | None = None) -> tuple[int, str, str]:
    """(years, counted_from, why) for a record of `record_class` on a service with `scopes`:
    the longest scoped policy that applies, else the class default (7 years when unset)."""
    policies = _policies() if policies is None else policies
    scoped = []
    for scope in sorted(set(scopes or [])):
        policy = policies.get((record_class, scope))
        if policy is not None:
            scoped.append((policy.years, policy.counted_from, f"{scope} policy"))
        elif scope in BUILTIN_SCOPED_YEARS and not policies:
            scoped.append((BUILTIN_SCOPED_YEARS[scope], RetentionPolicy.CountedFrom.CLOSURE, f"{scope} default"))
    if scoped:
        return max(scoped, key=lambda item: item[0])
    default = policies.get((record_class, ""))
    if default is not None:
        return default.years, default.counted_from, "default policy"
    return DEFAULT_YEARS, RetentionPolicy.CountedFrom.CLOSURE, "built-in default"


def retain_until(anchor: dt.datetime, years: int) -> dt.datetime:
    return anchor + relativedelta(years=years)


def retention_policy_update(*, policy: RetentionPolicy, actor, years: int, counted_from: str,
                            description: str = "") -> RetentionPolicy:
    resolved = resolve_actor(actor)
    if not can_manage_retention(resolved.user) and resolved.kind == "user":
        raise NotAllowed("Only administrators change retention policies.")
    if not 1 <= int(years) <= 100:
        raise InvalidInput("Retention is 1 to 100 years.", fields={"years": ["1 to 100."]})
    with transaction.atomic():
        locked = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
        before = {"years": locked.years, "counted_from": locked.counted_from}
        locked.years, locked.counted_from, locked.description = int(years), counted_from, description
        locked.save()
        audit_event_record(action="retention.policy_updated", target=locked, actor=resolved,
                           details={"before": before, "after": {"years": locked.years,
                                                                "counted_from": locked.counted_from}})
    return locked


# --- legal holds ------------------------------------------------------------------------

def legal_hold_place(*, actor, title: str, reason: str, service=None, team=None, period_start=None,
                     period_end=None, record_class: str = "", records: list[str] | None = None) -> LegalHold:
    resolved = resolve_actor(actor)
    if not can_manage_retention(resolved.user):
        raise NotAllowed("Only administrators place legal holds.")
    if not (reason or "").strip():
        raise InvalidInput("A legal hold needs a reason.", fields={"reason": ["Required."]})
    if not any([service, team, period_start, period_end, record_class, records]):
        raise InvalidInput("Say what the hold covers: a service, a team, a period, a record class or records.",
                           code="hold_scope_required", fields={"service": ["Set at least one scope."]})
    if period_start and period_end and period_end < period_start:
        raise InvalidInput("The period ends before it starts.", fields={"period_end": ["Before period_start."]})
    with transaction.atomic():
        hold = LegalHold.objects.create(title=title, reason=reason, service=service, team=team,
                                        period_start=period_start, period_end=period_end, record_class=record_class,
                                        records=list(records or []), placed_by=resolved.user,
                                        placed_at=timezone.now())
        audit_event_record(action="legal_hold.placed", target=hold, actor=resolved, details=hold_scope(hold))
    return hold


def legal_hold_release(*, hold: LegalHold, actor, reason: str) -> LegalHold:
    resolved = resolve_actor(actor)
    if not can_manage_retention(resolved.user):
        raise NotAllowed("Only administrators release legal holds.")
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if locked.released_at is not None:
            raise Conflict("This hold is already released.", code="hold_already_released")
        locked.released_at, locked.released_by, locked.release_reason = timezone.now(), resolved.user, reason
        locked.save()
        audit_event_record(action="legal_hold.released", target=locked, actor=resolved,
                           details={"reason": reason, **hold_scope(locked)})
    return locked


def hold_scope(hold: LegalHold) -> dict[str, Any]:
    return {"title": hold.title, "reason": hold.reason, "service": hold.service.slug if hold.service_id else None,
            "team": hold.team.slug if hold.team_id else None, "period_start": hold.period_start,
            "period_end": hold.period_end, "record_class": hold.record_class, "records": hold.records}


@dataclass(frozen=True)
class HeldRecord:
    """What a hold is matched against."""

    record_class: str
    object_id: str
    service_id: int | None
    team_id: int | None
    occurred_at: dt.datetime | None
    # A record about many services (an access review of every production grant, or of one
    # team's): a service or team hold covers it, within its team when it has one.
    spans_services: bool = False


def hold_covers(hold: LegalHold, record: HeldRecord) -> bool:
    if hold.records and f"{record.record_class}:{record.object_id}" not in hold.records:
        return False
    if hold.record_class and hold.record_class != record.record_class:
        return False
    if record.spans_services and record.service_id is None:
        if hold.service_id and record.team_id not in (None, hold.service.owner_team_id):
            return False
        if hold.team_id and record.team_id not in (None, hold.team_id):
            return False
    else:
        if hold.service_id and hold.service_id != record.service_id:
            return False
        if hold.team_id and hold.team_id != record.team_id:
            return False
    if (hold.period_start or hold.period_end) and record.occurred_at is None:
        return True  # undated record inside a dated hold: keep it, to be safe
    if hold.period_start and record.occurred_at < hold.period_start:
        return False
    return not (hold.period_end and record.occurred_at > hold.period_end)


def active_holds() -> list[LegalHold]:
    return list(LegalHold.objects.filter(released_at__isnull=True).select_related("service").order_by("pk"))


# --- purging live records -----------------------------------------------------------------

@dataclass
class Candidate:
    pk: Any
    reference: str
    anchor: dt.datetime | None
    created: dt.datetime | None
    held: HeldRecord
    scopes: list[str]


def _candidate(record_class: str, spec, values: dict[str, Any]) -> Candidate:
    """What retention and holds are judged on, from a record's values (live, or as archived)."""
    anchor = _as_time(values.get(spec.closure_field))
    created = _as_time(values.get(spec.creation_field))
    pk = values.get("id", values.get("pk"))
    return Candidate(
        pk=pk, reference=str(values.get(spec.reference)), anchor=anchor, created=created,
        held=HeldRecord(record_class, str(pk), values.get("hold_service_id"), values.get("hold_team_id"),
                        anchor or created, spec.spans_services),
        scopes=list(values.get("hold_scopes") or []))


def _as_time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _candidates(record_class: str, ids: list[Any]) -> list[Candidate]:
    spec = SPECS.get(record_class)
    if spec is None or spec.model_class() is None:
        raise InvalidInput(f"Records of class '{record_class}' cannot be purged here.", code="unknown_record_class",
                           fields={"record_class": [f"One of: {', '.join(SPECS)}."]})
    qs = spec.queryset(closed_only=False).filter(pk__in=ids)
    fields = ["id", spec.reference, spec.closure_field, spec.creation_field]
    return [_candidate(record_class, spec, values)
            for values in qs.values(*dict.fromkeys(fields), **spec.hold_fields())]


def refusal_reasons(record_class: str, candidates: list[Candidate], *, now: dt.datetime) -> list[str]:
    policies = _policies()
    holds = active_holds()
    reasons: list[str] = []
    for c in candidates:
        years, counted_from, why = retention_rule(record_class, c.scopes, policies)
        anchor = c.created if counted_from == RetentionPolicy.CountedFrom.CREATION else c.anchor
        if anchor is None:
            reasons.append(f"{c.reference}: not closed yet, so its {years}-year retention ({why}) has not started")
            continue
        until = retain_until(anchor, years)
        if until > now:
            reasons.append(f"{c.reference}: inside retention until {until:%Y-%m-%d} ({years} years from "
                           f"{counted_from}, {why})")
        for hold in holds:
            if hold_covers(hold, c.held):
                reasons.append(f"{c.reference}: under legal hold #{hold.pk} '{hold.title}' ({hold.reason})")
    return reasons


def records_purge(*, record_class: str, ids: list[Any], actor, reason: str, now: dt.datetime | None = None) -> int:
    """Delete the records, what belongs to them (a change's approvals, an incident's updates...)
    and all their history, or refuse (raising Conflict) naming why. Either way the attempt is in
    the audit log. Stored files they point at are deleted once the purge commits."""
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    spec = SPECS.get(record_class)
    if spec is not None and spec.never_purged:
        _refused(record_class, ids, [spec.never_purged], resolved, reason)
    candidates = _candidates(record_class, ids)
    missing = sorted({str(i) for i in ids} - {str(c.pk) for c in candidates})
    reasons = refusal_reasons(record_class, candidates, now=now)
    if missing:
        reasons.append(f"no such {record_class}: {', '.join(missing[:20])}")
    if reasons:
        _refused(record_class, ids, reasons, resolved, reason)
    return purge_candidates(record_class=record_class, candidates=candidates, actor=resolved, reason=reason,
                            now=now, requested_ids=ids)


def purge_candidates(*, record_class: str, candidates: list[Candidate], actor, reason: str, now: dt.datetime,
                     requested_ids: list[Any], archive=None) -> int:
    """The purge itself, once retention and holds allow it (callers have checked): records, what
    belongs to them, their history (and the archive's index, for an archive), one tombstone."""
    from .models import Archive

    spec = SPECS[record_class]
    references = [c.reference for c in candidates]
    _refuse_unless_maintenance_role(record_class, requested_ids, actor, reason)
    try:
        with unlocked():
            files = purge_rows(spec, [c.pk for c in candidates])
            details = {"record_class": record_class, "count": len(candidates), "references": references[:1000],
                       "reason": reason, "purged_at": now, "files_deleted": len(files)}
            target = None
            if archive is not None:
                details.update({"archive": archive.path, "archive_sha256": archive.sha256,
                                "month": archive.month.isoformat()})
                archive.records.all().delete()
                Archive.objects.filter(pk=archive.pk).update(purged_at=now)
                target = archive
                files.append((_archive_storage(), archive.path))
            audit_event_record(action="retention.purged", actor=actor, target=target,
                               object_type="" if target else f"retention.{record_class}",
                               object_id="" if target else (references[0] if len(references) == 1 else ""),
                               object_repr="" if target else f"{len(candidates)} {record_class} record(s) purged",
                               details=details)
            transaction.on_commit(lambda: _delete_files(files))
    except (ProtectedError, IntegrityError) as exc:
        _refused(record_class, requested_ids, [_still_referenced(exc)], actor, reason)
    return len(candidates)


def _archive_storage():
    from django.core.files.storage import storages

    return storages["archive"]


def _still_referenced(exc: Exception) -> str:
    if isinstance(exc, ProtectedError):
        kinds = sorted({f"{obj._meta.verbose_name} #{obj.pk}" for obj in list(exc.protected_objects)[:5]})
        return "still referenced by other records that must go first: " + ", ".join(kinds)
    return f"still referenced by other records: {exc}"[:300]


def _delete_files(files: list[tuple[Any, str]]) -> None:
    for storage, name in files:
        with contextlib.suppress(OSError):  # already gone: the purge is what mattered
            storage.delete(name)


def _refuse_unless_maintenance_role(record_class: str, ids: list[Any], actor, reason: str) -> None:
    """A purge runs as the database's maintenance role (apps/audit/triggers.py); attempted under
    the serving role it is refused, and the attempt is in the audit log like any refusal."""
    if not may_unlock():
        _refused(record_class, ids, [f"the purge must run as the database role {maintenance_role()} "
                                     f"(the maintenance login), not the portal's own role"], actor, reason)


def _refused(record_class: str, ids: list[Any], reasons: list[str], actor, reason: str) -> None:
    audit_event_record(action="retention.purge_refused", actor=actor, object_type=f"retention.{record_class}",
                       object_repr=f"purge of {len(ids)} {record_class} record(s) refused",
                       details={"record_class": record_class, "ids": [str(i) for i in ids[:1000]],
                                "reasons": reasons[:200], "requested_reason": reason})
    raise Conflict("Purge refused: " + "; ".join(reasons[:5]) + (" …" if len(reasons) > 5 else ""),
                   code="purge_refused", fields={"ids": reasons[:50]})


# --- purging the oldest audit events ------------------------------------------------------

def audit_events_purge(*, actor, reason: str, now: dt.datetime | None = None) -> ChainCheckpoint | None:
    """Remove the prefix of the audit chain whose retention has ended and that no active hold
    covers, keep a checkpoint of where it ended, and append a tombstone. Returns the checkpoint,
    or raises Conflict (audited) when nothing may go."""
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    years, counted_from, why = retention_rule(RecordClass.AUDIT_EVENT, [])
    cutoff = now - relativedelta(years=years)
    reasons = []
    for hold in active_holds():
        if hold.records and not any(r.startswith("audit_event:") for r in hold.records):
            continue
        if hold.record_class and hold.record_class != RecordClass.AUDIT_EVENT and not hold.period_start:
            continue
        start = hold.period_start
        if start is None:
            reasons.append(f"legal hold #{hold.pk} '{hold.title}' covers audit events without a start date")
            cutoff = min(cutoff, dt.datetime.min.replace(tzinfo=dt.UTC))
        elif start < cutoff:
            cutoff = start
    # The newest event always stays: the chain head must survive for appends to continue it.
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    last = (AuditEvent.objects.filter(created_at__lt=cutoff, seq__lt=head).order_by("-seq")
            .values("seq", "hash", "created_at").first())
    previous = ChainCheckpoint.objects.order_by("-seq").first()
    if last is None or (previous and last["seq"] <= previous.seq):
        reasons.insert(0, f"no audit event is outside its {years}-year retention ({why}) and every hold")
        _refused(RecordClass.AUDIT_EVENT, [], reasons, resolved, reason)
    # Purging a broken or truncated chain would launder the tampering: verify it whole first.
    trail = audit_trail_verify()
    if not trail.ok:
        broken = [f"sequence {trail.chain.broken_seq}: {trail.chain.reason}"] if not trail.chain.ok else []
        _refused(RecordClass.AUDIT_EVENT, [], ["the audit chain does not verify: " + "; ".join(
            [*broken, *trail.problems][:3])], resolved, reason)
    _refuse_unless_maintenance_role(RecordClass.AUDIT_EVENT, [], resolved, reason)
    with unlocked():
        deleted, _ = AuditEvent.objects.filter(seq__lte=last["seq"]).delete()
        checkpoint = ChainCheckpoint.objects.create(seq=last["seq"], hash=last["hash"], created_at=now,
                                                    reason=reason[:300], purged_count=deleted)
        # Written before the purge commits: no storage, no purge. Verification trusts the
        # checkpoint only with this signed anchor beside it.
        anchor = chain_anchor_write(kind=PURGE, seq=last["seq"], hash_=last["hash"], event_at=last["created_at"], now=now,
                                    reason=f"purge through #{last['seq']}: {reason}")
        audit_event_record(action="retention.purged", actor=resolved, object_type="retention.audit_event",
                           object_repr=f"audit events up to #{last['seq']} purged",
                           details={"record_class": "audit_event", "count": deleted, "through_seq": last["seq"],
                                    "through_hash": last["hash"], "cutoff": cutoff, "reason": reason,
                                    "purge_anchor": anchor.name,
                                    "retention": f"{years} years from {counted_from} ({why})"})
    return checkpoint


def model_label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"
