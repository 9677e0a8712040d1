"""A train's cadence as occurrences, and whether a moment is on it.

Definition (DESIGN: "on cadence"): each occurrence of the train's rule opens a release window of
`window_hours`; a moment is on cadence when it falls in a window, i.e. there is an occurrence `o`
with `o <= moment < o + window_hours`. The rule starts at `cadence_anchor` (DTSTART):
weekly = every 7 days, monthly = every month, quarterly = every 3 months on the anchor's day and
time; custom = the train's RRULE. A continuous train has no windows: every moment is on cadence.

A production change whose planned start is off its service's train's cadence needs a recorded
justification before it can be scheduled (guard `releases.cadence`, code
`off_cadence_justification_required`), and shows as off-cadence on the CAB meeting page."""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, rrulestr

from releaseportal.errors import InvalidInput

from .models import Cadence

MAX_RRULE_LENGTH = 500


def validate_rrule(text: str, anchor: datetime) -> None:
    """400 `invalid_rrule` unless `text` is one RRULE that dateutil parses and that occurs at all."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("A custom cadence needs an RRULE.", code="invalid_rrule", fields={"rrule": ["Required."]})
    if len(text) > MAX_RRULE_LENGTH or "\n" in text or text.upper().startswith(("DTSTART", "RDATE", "EXDATE")):
        raise InvalidInput("Give one RRULE line, e.g. FREQ=WEEKLY;BYDAY=TU.", code="invalid_rrule",
                           fields={"rrule": ["One RRULE line."]})
    try:
        rule = rrulestr(text.removeprefix("RRULE:"), dtstart=anchor)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidInput(f"The RRULE does not parse: {exc}", code="invalid_rrule",
                           fields={"rrule": [str(exc)[:200]]}) from exc
    if not isinstance(rule, rrule) or rule._freq > DAILY:
        raise InvalidInput("A release cadence is daily at most often (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY).",
                           code="invalid_rrule", fields={"rrule": ["Daily at most often."]})
    if rule.after(anchor, inc=True) is None:
        raise InvalidInput("The RRULE has no occurrence.", code="invalid_rrule", fields={"rrule": ["No occurrence."]})


def _rule(train) -> rrule | None:
    anchor = train.cadence_anchor
    if train.cadence == Cadence.WEEKLY:
        return rrule(WEEKLY, dtstart=anchor)
    if train.cadence == Cadence.MONTHLY:
        return rrule(MONTHLY, dtstart=anchor)
    if train.cadence == Cadence.QUARTERLY:
        return rrule(MONTHLY, interval=3, dtstart=anchor)
    if train.cadence == Cadence.CUSTOM:
        return rrulestr(train.rrule.removeprefix("RRULE:"), dtstart=anchor)
    return None


def window_at(train, moment: datetime) -> tuple[datetime, datetime] | None:
    """The release window containing `moment`, or None (a continuous train: always (moment, moment))."""
    rule = _rule(train)
    if rule is None:
        return (moment, moment)
    opened = rule.before(moment, inc=True)
    if opened is None:
        return None
    closes = opened + timedelta(hours=train.window_hours)
    return (opened, closes) if moment < closes else None


def is_on_cadence(train, moment: datetime | None) -> bool:
    if moment is None:
        return True
    return window_at(train, moment) is not None


def next_windows(train, after: datetime, count: int = 3) -> list[tuple[datetime, datetime]]:
    rule = _rule(train)
    if rule is None:
        return []
    found = []
    at = after
    for _ in range(count):
        opened = rule.after(at)
        if opened is None:
            break
        found.append((opened, opened + timedelta(hours=train.window_hours)))
        at = opened
    return found
