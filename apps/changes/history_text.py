"""A change's history in words: "Priya Raman submitted the change", "Planned start changed from
3 Dec 2026, 17:24 UTC to 4 Dec 2026, 09:00 UTC". Read from the django-simple-history rows of the
change; rows that changed nothing a person reads (a save that only touched bookkeeping fields)
are left out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.accounts.models import User
from apps.catalog.models import Environment, Service
from releaseportal.templatetags.portal import person_name, when_text

from .models import ChangeState, RolloutStrategy
from .templatetags.change_tags import rollback_criteria

# Bookkeeping: recomputed from the fields that are shown, or stamped by the state change shown.
HIDDEN_FIELDS = {"updated_at", "content_hash", "risk_breakdown", "risk_score", "number", "created_at", "submitted_at",
                 "approved_at", "implementation_started_at", "implemented_at", "closed_at", "outcome", "review_reason"}
FIELD_LABELS = {"description": "Plan", "risk_answers": "Risk answers", "rollback_criteria": "Rollback criteria",
                "compliance_scopes": "Compliance scopes", "cab_required": "CAB review",
                "is_unauthorised": "Unauthorised flag", "post_mortem_at": "Post-mortem recorded",
                "post_mortem_due_at": "Post-mortem due", "risk_level": "Risk level", "state": "State"}
# What the person did, by the state the change entered.
STATE_VERBS = {
    ChangeState.IN_REVIEW: "submitted the change for review",
    ChangeState.APPROVED: "approved the change",
    ChangeState.SCHEDULED: "scheduled the change",
    ChangeState.IMPLEMENTING: "started implementing the change",
    ChangeState.COMPLETED: "completed the change",
    ChangeState.FAILED: "recorded the change as failed",
    ChangeState.ROLLED_BACK: "rolled the change back",
    ChangeState.REJECTED: "rejected the change",
    ChangeState.CANCELLED: "cancelled the change",
    ChangeState.CLOSED: "closed the change",
    ChangeState.DRAFT: "withdrew the change to draft",
}
# Reasons the service writes by default, which the sentence already says.
_GENERIC_REASONS = {"edited", "created", "", "submitted for review"}
# The order a reader expects the changed fields in (the change page's order); others after.
FIELD_ORDER = ["state", "title", "service", "environment", "implementer", "planned_start", "planned_end",
               "description", "rollout_strategy", "rollback_plan", "rollback_criteria", "risk_answers", "risk_level"]
_LONG_TEXT = {"description", "rollback_plan", "post_mortem"}
_USERS = {"implementer", "requester"}


def actor_name(record) -> str:
    """The person by full name; a command or task by what it is; "System" when nobody is recorded."""
    if record.history_user_id and record.history_user is not None:
        return person_name(record.history_user)
    label = (getattr(record, "history_actor_label", "") or "").strip()
    if label.startswith("command:"):
        return f"System (the {label.removeprefix('command:')} command)"
    if label.startswith("task:"):
        return f"System (the {label.removeprefix('task:')} task)"
    return label or "System"


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field.removesuffix("_id").replace("_", " ").capitalize())


def _value(field: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if value in (None, "", [], {}):
        return "nothing"
    if field in ("implementer", "requester"):
        return names["user"].get(value, f"user #{value}")
    if field in ("service", "environment"):
        return names[field].get(value, f"#{value}")
    if field == "state":
        return ChangeState(value).label if value in ChangeState.values else str(value)
    if field == "rollout_strategy":
        return RolloutStrategy(value).label if value in RolloutStrategy.values else str(value)
    if field == "rollback_criteria" and isinstance(value, dict):
        return "; ".join(rollback_criteria(value)).replace("Error rate", "error rate").replace("P95", "p95")
    if field == "compliance_scopes" and isinstance(value, list):
        return ", ".join(str(v).upper() for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when_text(value)
    if isinstance(value, str) and len(value) > 80:
        return f"“{value[:77]}…”"
    return f"“{value}”" if isinstance(value, str) else str(value)


def _line(field: str, old: Any, new: Any, names: dict[str, dict[int, str]]) -> str:
    if field in _LONG_TEXT:
        return f"{_label(field)} rewritten" if old else f"{_label(field)} written"
    if field == "risk_answers":
        return "Risk answers changed"
    if old in (None, "", [], {}):
        return f"{_label(field)} set to {_value(field, new, names)}"
    if new in (None, "", [], {}):
        return f"{_label(field)} cleared (was {_value(field, old, names)})"
    return f"{_label(field)} changed from {_value(field, old, names)} to {_value(field, new, names)}"


def change_history(change, limit: int = 25) -> list[dict]:
    """Newest first: {"who", "summary", "at", "lines"} per history row that says something. Three
    queries at most (the rows, the people and places their field changes name)."""
    records = list(change.history.select_related("history_user").order_by("-history_date", "-history_id")[:limit + 1])
    raw: list[tuple[Any, Any, list]] = []
    wanted: dict[str, set[int]] = {"user": set(), "service": set(), "environment": set()}
    for newer, older in zip(records, records[1:] + [None], strict=False):
        diffs = []
        if older is not None:
            for c in newer.diff_against(older).changes:
                if c.field in HIDDEN_FIELDS:
                    continue
                diffs.append(c)
                kind = "user" if c.field in _USERS else c.field if c.field in ("service", "environment") else None
                if kind:
                    wanted[kind].update(v for v in (c.old, c.new) if v)
        diffs.sort(key=lambda c: FIELD_ORDER.index(c.field) if c.field in FIELD_ORDER else len(FIELD_ORDER))
        raw.append((newer, older, diffs))
    names = {
        "user": {u.pk: person_name(u) for u in User.objects.filter(pk__in=wanted["user"])} if wanted["user"] else {},
        "service": dict(Service.objects.filter(pk__in=wanted["service"]).values_list("pk", "name"))
        if wanted["service"] else {},
        "environment": dict(Environment.objects.filter(pk__in=wanted["environment"]).values_list("pk", "name"))
        if wanted["environment"] else {},
    }
    entries: list[dict] = []
    for newer, older, diffs in raw[:limit]:
        if older is None and len(records) > limit:
            break  # the oldest row read only to diff the one before it
        reason = (newer.history_change_reason or "").strip()
        state = next((c for c in diffs if c.field == "state"), None)
        lines = [_line(c.field, c.old, c.new, names) for c in diffs if c.field != "state"]
        if older is None:
            summary = "created the change"
        elif state is not None:
            summary = STATE_VERBS.get(state.new, f"moved the change to {_value('state', state.new, names)}")
            if reason and "→" not in reason and reason.lower() not in _GENERIC_REASONS:
                summary = f"{summary} ({reason[0].lower()}{reason[1:]})"
        elif lines:
            summary = "edited the change"
        elif reason.lower() not in _GENERIC_REASONS:
            summary = f"{reason[0].lower()}{reason[1:]}"
        else:
            continue  # a save that changed nothing a person reads
        entries.append({"who": actor_name(newer), "summary": summary, "at": newer.history_date, "lines": lines})
    return entries
