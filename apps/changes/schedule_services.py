"""Writes about the schedule after creation: editing and ending maintenance windows and freezes
early, and recording who agreed to a window's stakeholder SLA. (Creation lives in services.py.)

Each function: keyword-only, one transaction, a history row stamped with the actor and exactly
one audit event. Who may call them is decided once, here (permissions.can_manage_schedule), so the
page and any later API share the refusal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import Freeze, MaintenanceWindow, NoticeUnit, WindowAgreement
from .permissions import can_manage_schedule
from .schedule import parse_rrule, window_occurrence

WINDOW_FIELDS = ("name", "service", "environment", "starts_at", "duration_minutes", "rrule", "is_active",
                 "notice_amount", "notice_unit", "max_change_minutes", "review_on")
FREEZE_FIELDS = ("name", "reason", "starts_at", "ends_at", "service", "environment", "team")


def _require_planner(actor: Any) -> None:
    user = resolve_actor(actor).user
    if user is None or not can_manage_schedule(user):
        raise NotAllowed("Only release managers plan, edit and end maintenance windows and freezes.")


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("Say why it ends early.", fields={"reason": ["Required."]})
    if len(text) > 300:
        raise InvalidInput("The reason is too long.", fields={"reason": ["At most 300 characters."]})
    return text


def window_sla_clean(*, notice_amount: int | None, notice_unit: str, max_change_minutes: int | None,
                     review_on: date | None) -> None:
    """The SLA terms' own rules, shared by create and update."""
    if notice_unit not in NoticeUnit.values:
        raise InvalidInput("Unknown notice unit.", fields={"notice_unit": [f"One of {', '.join(NoticeUnit.values)}."]})
    if notice_amount is not None and notice_amount < 0:
        raise InvalidInput("The notice period cannot be negative.", fields={"notice_amount": ["Must be 0 or more."]})
    if max_change_minutes is not None and max_change_minutes <= 0:
        raise InvalidInput("The allowed duration must be positive.",
                           fields={"max_change_minutes": ["Must be at least one minute."]})


def _display(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return getattr(value, "slug", value) if value is not None and not isinstance(value, str | int | bool) else value


def maintenance_window_update(*, window: MaintenanceWindow, actor: Any, **changes: Any) -> MaintenanceWindow:
    """Edit a window; the audit event lists the fields that moved (old → new)."""
    _require_planner(actor)
    unknown = set(changes) - set(WINDOW_FIELDS)
    if unknown:
        raise InvalidInput("Unknown window fields.", fields={f: ["Not editable."] for f in sorted(unknown)})
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.rrule = (locked.rrule or "").strip()
        if not (locked.name or "").strip():
            raise InvalidInput("A window needs a name.", fields={"name": ["Required."]})
        if not locked.duration_minutes or locked.duration_minutes <= 0:
            raise InvalidInput("The window must last at least a minute.",
                               fields={"duration_minutes": ["Must be positive."]})
        if locked.rrule:
            try:
                parse_rrule(locked.rrule, locked.starts_at)
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"The recurrence rule is not valid: {exc}", fields={"rrule": [str(exc)]}) from exc
        window_sla_clean(notice_amount=locked.notice_amount, notice_unit=locked.notice_unit,
                         max_change_minutes=locked.max_change_minutes, review_on=locked.review_on)
        moved = {name: [_display(getattr(window, name)), _display(getattr(locked, name))]
                 for name in changes if getattr(window, name) != getattr(locked, name)}
        history_stamp(locked, resolved)
        locked._change_reason = "edited"
        locked.save()
        audit_event_record(action="change.window.updated", target=locked, actor=resolved, details={"changed": moved})
    return locked


def maintenance_window_end_early(*, window: MaintenanceWindow, actor: Any, reason: str) -> MaintenanceWindow:
    """Close the occurrence open now (later occurrences of a recurring window still come)."""
    _require_planner(actor)
    text = _reason(reason)
    resolved = resolve_actor(actor)
    now = timezone.now()
    with transaction.atomic():
        locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        occurrence = window_occurrence(locked, now) if locked.is_active else None
        if occurrence is None:
            raise Conflict("The window is not open now: there is nothing to end. Edit it instead.",
                           code="window_not_open", fields={"window": ["Not open now."]})
        locked.ended_early_at = now
        locked.ended_early_reason = text
        history_stamp(locked, resolved)
        locked._change_reason = "ended early"
        locked.save(update_fields=["ended_early_at", "ended_early_reason"])
        audit_event_record(action="change.window.ended_early", target=locked, actor=resolved,
                           details={"reason": text, "occurrence_start": occurrence[0].isoformat(),
                                    "planned_end": occurrence[1].isoformat(), "ended_at": now.isoformat()})
    return locked


def window_agreement_record(*, window: MaintenanceWindow, actor: Any, user=None, group_name: str = "",
                            agreed_at: datetime | None = None) -> WindowAgreement:
    """Record that a person, or a named stakeholder group, agreed to the window's SLA."""
    _require_planner(actor)
    group_name = (group_name or "").strip()
    if user is None and not group_name:
        raise InvalidInput("Name who agreed: a person or a stakeholder group.",
                           fields={"user": ["A person or a group is required."]})
    if len(group_name) > 120:
        raise InvalidInput("The group name is too long.", fields={"group_name": ["At most 120 characters."]})
    agreed_at = agreed_at or timezone.now()
    if agreed_at > timezone.now():
        raise InvalidInput("An agreement cannot be dated in the future.", fields={"agreed_at": ["In the future."]})
    resolved = resolve_actor(actor)
    with transaction.atomic():
        agreement = WindowAgreement(window=window, user=user, group_name=group_name, agreed_at=agreed_at,
                                    recorded_by=resolved.user)
        history_stamp(agreement, resolved)
        agreement.save()
        audit_event_record(action="change.window.sla_agreed", target=window, actor=resolved,
                           details={"user": getattr(user, "username", None), "group": group_name or None,
                                    "agreed_at": agreed_at.isoformat()})
    return agreement


def freeze_update(*, freeze: Freeze, actor: Any, **changes: Any) -> Freeze:
    _require_planner(actor)
    unknown = set(changes) - set(FREEZE_FIELDS)
    if unknown:
        raise InvalidInput("Unknown freeze fields.", fields={f: ["Not editable."] for f in sorted(unknown)})
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = Freeze.objects.select_for_update().get(pk=freeze.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.reason = (locked.reason or "").strip()
        if not locked.reason:
            raise InvalidInput("A freeze needs a reason.", fields={"reason": ["Required."]})
        if locked.ends_at <= locked.starts_at:
            raise InvalidInput("The freeze must end after it starts.", fields={"ends_at": ["Must be after the start."]})
        moved = {name: [_display(getattr(freeze, name)), _display(getattr(locked, name))]
                 for name in changes if getattr(freeze, name) != getattr(locked, name)}
        history_stamp(locked, resolved)
        locked._change_reason = "edited"
        locked.save()
        audit_event_record(action="change.freeze.updated", target=locked, actor=resolved, details={"changed": moved})
    return locked


def freeze_end_early(*, freeze: Freeze, actor: Any, reason: str) -> Freeze:
    """End a running freeze now: its end becomes this moment."""
    _require_planner(actor)
    text = _reason(reason)
    resolved = resolve_actor(actor)
    now = timezone.now()
    with transaction.atomic():
        locked = Freeze.objects.select_for_update().get(pk=freeze.pk)
        if not (locked.starts_at < now < locked.ends_at):
            raise Conflict("Only a running freeze can end early; edit its dates instead.", code="freeze_not_running",
                           fields={"ends_at": ["The freeze is not running now."]})
        planned_end = locked.ends_at
        locked.ends_at = now
        locked.ended_early_at = now
        locked.ended_early_reason = text
        history_stamp(locked, resolved)
        locked._change_reason = "ended early"
        locked.save(update_fields=["ends_at", "ended_early_at", "ended_early_reason"])
        audit_event_record(action="change.freeze.ended_early", target=locked, actor=resolved,
                           details={"reason": text, "planned_end": planned_end.isoformat(),
                                    "ended_at": now.isoformat()})
    return locked
