"""The schedule: maintenance windows (recurring, python-dateutil rrule), freezes, and the
conflicts of a change with them and with other changes."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

from dateutil.rrule import rrulestr
from django.db.models import Q
from django.utils import timezone

from .models import ChangeRequest, ChangeState, Freeze, MaintenanceWindow, NoticeUnit

BUSY_STATES = [ChangeState.IN_REVIEW, ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTING]


def parse_rrule(rule: str, dtstart: datetime):
    """The recurrence of a window, or a ValueError naming what is wrong with the rule."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return rrulestr(text, dtstart=dtstart)


def window_occurrence(window: MaintenanceWindow, start: datetime, end: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The occurrence of `window` that contains [start, end] (or the instant `start`), if any."""
    if not window.rrule:
        occ = window.starts_at
    else:
        try:
            occ = parse_rrule(window.rrule, window.starts_at).before(start, inc=True)
        except (ValueError, TypeError):
            return None
    return _holding(window, occ, start, end or start)


def _holding(window: MaintenanceWindow, occ: datetime | None, start: datetime, end: datetime
             ) -> tuple[datetime, datetime] | None:
    """The occurrence starting at `occ` (the last one at or before `start`), if it holds [start, end]."""
    if occ is None:
        return None
    length = timedelta(minutes=window.duration_minutes)
    occ_end = _clipped_end(window, occ, occ + length)
    # Once ended early, the moment it was ended is already outside.
    inside = start < occ_end if occ_end != occ + length else True
    if occ <= start and end <= occ_end and inside:
        return occ, occ_end
    return None


def _clipped_end(window: MaintenanceWindow, occ_start: datetime, occ_end: datetime) -> datetime:
    """An occurrence ended early ends when it was ended (maintenance_window_end_early)."""
    ended = window.ended_early_at
    if ended is not None and occ_start <= ended < occ_end:
        return ended
    return occ_end


def _occurrence_starts(window: MaintenanceWindow, after: datetime, before: datetime) -> list[datetime]:
    """The starts of the occurrences that overlap [after, before]."""
    length = timedelta(minutes=window.duration_minutes)
    if not window.rrule:
        return [window.starts_at] if after - length <= window.starts_at < before else []
    try:
        return parse_rrule(window.rrule, window.starts_at).between(after - length, before, inc=True)
    except (ValueError, TypeError):
        return []


def window_occurrences(window: MaintenanceWindow, after: datetime, before: datetime) -> list[tuple[datetime, datetime]]:
    return _with_ends(window, _occurrence_starts(window, after, before))


def _with_ends(window: MaintenanceWindow, starts: list[datetime]) -> list[tuple[datetime, datetime]]:
    length = timedelta(minutes=window.duration_minutes)
    return [(s, _clipped_end(window, s, s + length)) for s in starts[:500]]


class OccurrenceIndex:
    """`window_occurrence(window, instant)` for many instants in [after, before] (the changes of a
    calendar month): each recurring window's occurrences over the span are listed once and searched,
    instead of walking its rule from its first occurrence again for every change.

    The same answer: the last occurrence at or before an instant in the span either starts at or
    after `after - length`, so it is listed, or ends before the instant and holds nothing."""

    def __init__(self, windows: list[MaintenanceWindow], after: datetime, before: datetime):
        self.after, self.before = after, before
        self._starts = {w.pk: _occurrence_starts(w, after, before) for w in windows if w.rrule}

    def occurrence(self, window: MaintenanceWindow, start: datetime) -> tuple[datetime, datetime] | None:
        starts = self._starts.get(window.pk)
        if starts is None or not self.after <= start <= self.before:
            return window_occurrence(window, start)
        i = bisect_right(starts, start)
        return _holding(window, starts[i - 1] if i else None, start, start)

    def occurrences(self, window: MaintenanceWindow) -> list[tuple[datetime, datetime]]:
        """window_occurrences(window, after, before)."""
        if window.pk not in self._starts:
            return window_occurrences(window, self.after, self.before)
        return _with_ends(window, self._starts[window.pk])


def windows_for(service, environment) -> list[MaintenanceWindow]:
    qs = MaintenanceWindow.objects.filter(is_active=True)
    qs = qs.filter(Q(service__isnull=True) | Q(service=service)) if service is not None else qs.filter(service__isnull=True)
    qs = (qs.filter(Q(environment__isnull=True) | Q(environment=environment)) if environment is not None
          else qs.filter(environment__isnull=True))
    return list(qs)


def freezes_for(service, environment, start: datetime, end: datetime | None = None) -> list[Freeze]:
    end = end or start
    qs = Freeze.objects.filter(starts_at__lt=end if end > start else end + timedelta(microseconds=1), ends_at__gt=start)
    qs = qs.filter(Q(service__isnull=True) | Q(service=service))
    qs = qs.filter(Q(environment__isnull=True) | Q(environment=environment))
    team_id = getattr(service, "owner_team_id", None)
    qs = qs.filter(Q(team__isnull=True) | Q(team_id=team_id))
    return list(qs)


def _iso(value: datetime) -> str:
    return value.isoformat()


def change_conflicts(change: ChangeRequest) -> list[dict]:
    """Everything in the way of the change's planned slot: {"kind", "code", "message", ...}."""
    start, end = change.planned_start, change.planned_end
    if start is None or end is None:
        return []
    conflicts: list[dict] = []
    windows = windows_for(change.service, change.environment)
    if windows and not any(window_occurrence(w, start, end) for w in windows):
        conflicts.append({"kind": "window", "code": "outside_maintenance_window",
                          "message": "The planned slot is outside every maintenance window for this service and "
                                     "environment (" + ", ".join(w.name for w in windows) + ").",
                          "windows": [w.name for w in windows]})
    conflicts.extend(window_sla_flags(change, windows))
    for freeze in freezes_for(change.service, change.environment, start, end):
        blocking = not change.change_type.is_emergency
        conflicts.append({"kind": "freeze", "code": "freeze_active", "blocking": blocking,
                          "message": f"Freeze “{freeze.name}” ({freeze.scope_label}) from {freeze.starts_at:%Y-%m-%d %H:%M} "
                                     f"to {freeze.ends_at:%Y-%m-%d %H:%M}: {freeze.reason}"
                                     + ("" if blocking else " — emergency changes may proceed."),
                          "freeze": freeze.name, "starts_at": _iso(freeze.starts_at), "ends_at": _iso(freeze.ends_at)})
    others = ChangeRequest.objects.filter(state__in=BUSY_STATES, planned_start__lt=end, planned_end__gt=start).exclude(pk=change.pk)
    for other in others.filter(service_id=change.service_id, environment_id=change.environment_id).only(
            "number", "title", "planned_start", "planned_end")[:20]:
        conflicts.append({"kind": "overlap", "code": "overlapping_change", "change": other.number,
                          "message": f"{other.number} “{other.title}” is planned on the same service and environment "
                                     f"from {other.planned_start:%Y-%m-%d %H:%M} to {other.planned_end:%Y-%m-%d %H:%M}."})
    if change.implementer_id:
        for other in others.filter(implementer_id=change.implementer_id).only("number", "title", "planned_start",
                                                                              "planned_end")[:20]:
            conflicts.append({"kind": "double_booked", "code": "implementer_double_booked", "change": other.number,
                              "message": f"The implementer is also booked on {other.number} “{other.title}” "
                                         f"from {other.planned_start:%Y-%m-%d %H:%M} to {other.planned_end:%Y-%m-%d %H:%M}."})
    return conflicts


def business_days_before(moment: datetime, days: int) -> datetime:
    """`moment` moved back `days` working days (Monday to Friday, in the portal's timezone), keeping
    its time of day: 5 business days before Monday 10:00 is the Monday before, 10:00."""
    local = timezone.localtime(moment)
    while days > 0:
        local -= timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def notice_deadline(window: MaintenanceWindow, planned_start: datetime) -> datetime | None:
    """The latest moment a change starting at `planned_start` may be scheduled under the window's SLA."""
    if not window.notice_amount:
        return None
    if window.notice_unit == NoticeUnit.HOURS:
        return planned_start - timedelta(hours=window.notice_amount)
    return business_days_before(planned_start, window.notice_amount)


def notice_reference(change: ChangeRequest) -> datetime:
    """When the change was put on the schedule: its submission; a draft is measured as if it were
    submitted now, so its author sees the flag before submitting."""
    return change.submitted_at or timezone.now()


def windows_planned_into(change: ChangeRequest, windows: list[MaintenanceWindow] | None = None, *,
                         index: OccurrenceIndex | None = None
                         ) -> list[tuple[MaintenanceWindow, tuple[datetime, datetime]]]:
    """The windows (with their occurrence) in which the change's planned start falls; `index`
    answers for windows it lists (OccurrenceIndex: many changes of one span)."""
    if change.planned_start is None:
        return []
    if windows is None:
        windows = windows_for(change.service, change.environment)
    found = []
    for window in windows:
        occ = (index.occurrence(window, change.planned_start) if index is not None
               else window_occurrence(window, change.planned_start))
        if occ is not None:
            found.append((window, occ))
    return found


def window_sla_flags(change: ChangeRequest, windows: list[MaintenanceWindow] | None = None, *,
                     index: OccurrenceIndex | None = None) -> list[dict]:
    """The stakeholder SLA of each window the change is planned into: too little notice
    (planned start − scheduled < notice period) and a planned duration beyond what the window allows.
    Flags, not blockers: the CAB decides whether to accept the short notice."""
    start, end = change.planned_start, change.planned_end
    if start is None:
        return []
    flags: list[dict] = []
    for window, _occ in windows_planned_into(change, windows, index=index):
        deadline = notice_deadline(window, start)
        if deadline is not None:
            scheduled = notice_reference(change)
            if scheduled > deadline:
                given_hours = max(0.0, (start - scheduled).total_seconds() / 3600)
                flags.append({
                    "kind": "window_sla", "code": "window_short_notice", "blocking": False, "window": window.name,
                    "window_id": window.pk, "notice_required": {"amount": window.notice_amount,
                                                                "unit": window.notice_unit},
                    "notice_given_hours": round(given_hours, 1), "scheduled_at": _iso(scheduled),
                    "notice_deadline": _iso(deadline),
                    "message": f"Less notice than the “{window.name}” window's SLA: it asks for "
                               f"{window.notice_label}, the change was scheduled {given_hours:.1f} hours before "
                               "its planned start."})
        if window.max_change_minutes and end is not None:
            planned = (end - start).total_seconds() / 60
            if planned > window.max_change_minutes:
                flags.append({
                    "kind": "window_sla", "code": "window_duration_exceeded", "blocking": False,
                    "window": window.name, "window_id": window.pk, "allowed_minutes": window.max_change_minutes,
                    "planned_minutes": round(planned),
                    "message": f"Planned for {round(planned)} minutes; the “{window.name}” window's SLA allows "
                               f"{window.max_change_minutes}."})
    return flags


def change_schedule(change: ChangeRequest) -> dict:
    """The change's schedule as the API and the change page show it: the windows it is planned into
    with their stakeholder SLA (who agreed and when) and the SLA flags. Two queries."""
    from .models import WindowAgreement

    planned = windows_planned_into(change)
    agreements: dict[int, list[WindowAgreement]] = {}
    if planned:
        for agreement in WindowAgreement.objects.filter(window__in=[w for w, _ in planned]).select_related("user"):
            agreements.setdefault(agreement.window_id, []).append(agreement)
    windows = []
    for window, (occ_start, occ_end) in planned:
        windows.append({
            "id": window.pk, "name": window.name, "occurrence_start": occ_start, "occurrence_end": occ_end,
            "notice_label": window.notice_label, "agreements": agreements.get(window.pk, []),
            "sla": {"notice": ({"amount": window.notice_amount, "unit": window.notice_unit}
                               if window.notice_amount else None),
                    "allowed_duration_minutes": window.max_change_minutes, "review_on": window.review_on,
                    "review_overdue": window.review_overdue()}})
    return {"planned_start": change.planned_start, "planned_end": change.planned_end,
            "notice_reference": notice_reference(change) if change.planned_start else None,
            "windows": windows, "flags": window_sla_flags(change, [w for w, _ in planned])}


def blocking_freeze(change: ChangeRequest) -> dict | None:
    for conflict in change_conflicts(change):
        if conflict["code"] == "freeze_active" and conflict.get("blocking"):
            return conflict
    return None
