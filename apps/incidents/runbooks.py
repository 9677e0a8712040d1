"""Rollback runbooks: services, selectors and the overdue rule.

A runbook is *overdue* when it has not passed a test in the last calendar quarter: its last
passing test is before the first day of the previous calendar quarter (in the portal's
TIME_ZONE). On 1 January 2027 that cut-off is 1 October 2026; on 31 March 2027 it is still
1 October 2026; on 1 April 2027 it becomes 1 January 2027. A failed test does not count."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput

from .models import Runbook, RunbookStep, RunbookTest


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def previous_quarter_start(day: date) -> date:
    return quarter_start(quarter_start(day) - timedelta(days=1))


def overdue_cutoff(today: date | None = None) -> datetime:
    """The earliest moment a passing test still counts (start of the previous quarter)."""
    today = today or timezone.localdate()
    return timezone.make_aware(datetime.combine(previous_quarter_start(today), time.min))


def is_overdue(runbook: Runbook, today: date | None = None) -> bool:
    return runbook.last_tested_at is None or runbook.last_tested_at < overdue_cutoff(today)


def overdue_q(today: date | None = None) -> Q:
    return Q(last_tested_at__isnull=True) | Q(last_tested_at__lt=overdue_cutoff(today))


def runbooks_list(*, overdue: bool = False, team: str | None = None, today: date | None = None) -> QuerySet[Runbook]:
    qs = Runbook.objects.select_related("service", "service__owner_team", "owner").order_by("service__name")
    if overdue:
        qs = qs.filter(overdue_q(today))
    if team:
        qs = qs.filter(service__owner_team__slug=team)
    return qs


def runbook_create(*, service, owner, actor: Any, summary: str = "") -> Runbook:
    resolved = resolve_actor(actor)
    try:
        with atomic_as(resolved):
            runbook = Runbook(service=service, owner=owner, summary=summary)
            history_stamp(runbook, resolved)
            runbook.save()
            audit_event_record(action="incident.runbook_created", target=runbook, actor=resolved,
                               details={"service": service.slug, "owner": owner.username})
    except IntegrityError as exc:
        raise Conflict("This service already has a rollback runbook.", code="runbook_exists") from exc
    return runbook


def runbook_step_add(*, runbook: Runbook, area: str, instruction: str, actor: Any, verification: str = "",
                     position: int | None = None) -> RunbookStep:
    resolved = resolve_actor(actor)
    if area not in RunbookStep.Area.values:
        raise InvalidInput("Unknown area.", fields={"area": [f"One of {', '.join(RunbookStep.Area.values)}."]})
    if not instruction.strip():
        raise InvalidInput("A step needs an instruction.", fields={"instruction": ["This field may not be blank."]})
    with atomic_as(resolved):
        Runbook.objects.select_for_update().get(pk=runbook.pk)
        last = runbook.steps.aggregate(m=Max("position"))["m"] or 0
        if position is None or position > last:
            position = last + 1
        elif position < 1:
            raise InvalidInput("Positions start at 1.", fields={"position": ["Must be at least 1."]})
        else:
            # Make room: shift later steps down, from the end so the unique constraint holds.
            for step in runbook.steps.filter(position__gte=position).order_by("-position"):
                step.position += 1
                history_stamp(step, resolved)
                step.save(update_fields=["position"])
        step = RunbookStep(runbook=runbook, position=position, area=area, instruction=instruction.strip(),
                           verification=verification.strip())
        history_stamp(step, resolved)
        step.save()
        audit_event_record(action="incident.runbook_step_added", target=runbook, actor=resolved,
                           details={"position": position, "area": area})
    return step


def runbook_test_record(*, runbook: Runbook, outcome: str, actor: Any, tested_at: datetime | None = None,
                        environment=None, notes: str = "") -> RunbookTest:
    resolved = resolve_actor(actor)
    if outcome not in RunbookTest.Outcome.values:
        raise InvalidInput("Unknown outcome.", fields={"outcome": ["passed or failed."]})
    tested_at = tested_at or timezone.now()
    if tested_at > timezone.now() + timedelta(minutes=5):
        raise InvalidInput("A test cannot be in the future.", fields={"tested_at": ["Must not be in the future."]})
    with atomic_as(resolved):
        locked = Runbook.objects.select_for_update().get(pk=runbook.pk)
        test = RunbookTest(runbook=locked, outcome=outcome, tested_at=tested_at, tested_by=resolved.user,
                           environment=environment, notes=notes)
        history_stamp(test, resolved)
        test.save()
        if outcome == RunbookTest.Outcome.PASSED and (locked.last_tested_at is None or tested_at > locked.last_tested_at):
            locked.last_tested_at = tested_at
            history_stamp(locked, resolved)
            locked.save(update_fields=["last_tested_at", "updated_at"])
        audit_event_record(action="incident.runbook_tested", target=locked, actor=resolved,
                           details={"outcome": outcome, "tested_at": tested_at.isoformat()})
    runbook.last_tested_at = locked.last_tested_at
    return test
