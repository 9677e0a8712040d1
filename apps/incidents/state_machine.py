"""The incident status machine: the one table of allowed transitions, and the timestamp each
status stamps on entry."""

from __future__ import annotations

from .models import Incident

S = Incident.Status

TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.MITIGATED, S.RESOLVED},
    S.MITIGATED: {S.RESOLVED, S.OPEN},  # back to open: the mitigation did not hold
    S.RESOLVED: {S.CLOSED, S.OPEN},  # reopened: it came back
    S.CLOSED: set(),
}

TIMESTAMP_ON_ENTRY = {S.MITIGATED: "mitigated_at", S.RESOLVED: "resolved_at"}
ACTIVE = (S.OPEN, S.MITIGATED)


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, set())


def next_statuses(status: str) -> list[str]:
    order = [S.OPEN, S.MITIGATED, S.RESOLVED, S.CLOSED]
    allowed = TRANSITIONS.get(status, set())
    return [s for s in order if s in allowed]
