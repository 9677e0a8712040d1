"""Change request services. Every state change of a change request goes through
`change_transition`, checked against state_machine.TRANSITIONS."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict

from .models import ChangeRequest, ChangeState
from .state_machine import is_allowed

_TIMESTAMP_ON_ENTRY = {
    ChangeState.IN_REVIEW: "submitted_at",
    ChangeState.APPROVED: "approved_at",
    ChangeState.IMPLEMENTING: "implementation_started_at",
    ChangeState.COMPLETED: "implemented_at",
    ChangeState.FAILED: "implemented_at",
    ChangeState.ROLLED_BACK: "implemented_at",
    ChangeState.CLOSED: "closed_at",
}


def change_transition(*, change: ChangeRequest, to_state: str, actor: Any, reason: str = "",
                      details: dict | None = None) -> ChangeRequest:
    """Move a change to `to_state` if the table allows it: row-locked, in history and the audit log.

    Returns the locked, updated instance. Raises Conflict (409 `invalid_transition`) otherwise."""
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        from_state = locked.state
        if not is_allowed(from_state, to_state):
            raise Conflict(f"A change in state '{from_state}' cannot move to '{to_state}'.", code="invalid_transition",
                           fields={"state": [f"{from_state} → {to_state} is not allowed"]})
        locked.state = to_state
        stamp = _TIMESTAMP_ON_ENTRY.get(to_state)
        if stamp and (getattr(locked, stamp) is None or to_state == ChangeState.IN_REVIEW):
            setattr(locked, stamp, timezone.now())
        locked._change_reason = reason[:100] if reason else f"{from_state} → {to_state}"
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action=f"change.{to_state}", target=locked, actor=resolved,
                           details={"from": from_state, "to": to_state, "reason": reason, **(details or {})})
    change.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked
