"""The change request state machine: the one table of allowed transitions."""

from __future__ import annotations

from .models import ChangeState as S

# in_review → implementing is only for an emergency change on an active override, and
# → closed needs the post-mortem when one is due: services._guard checks both.
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.IN_REVIEW, S.SCHEDULED, S.CANCELLED},
    S.IN_REVIEW: {S.APPROVED, S.REJECTED, S.CANCELLED, S.DRAFT, S.IMPLEMENTING},
    S.APPROVED: {S.SCHEDULED, S.IMPLEMENTING, S.IN_REVIEW, S.CANCELLED},
    S.SCHEDULED: {S.IMPLEMENTING, S.IN_REVIEW, S.CANCELLED},
    S.IMPLEMENTING: {S.COMPLETED, S.FAILED, S.ROLLED_BACK},
    S.COMPLETED: {S.CLOSED},
    S.FAILED: {S.ROLLED_BACK, S.CLOSED},
    S.ROLLED_BACK: {S.CLOSED},
    S.REJECTED: {S.CLOSED},
    S.CANCELLED: {S.CLOSED},
    S.CLOSED: set(),
}

TERMINAL = {S.CLOSED}
OPEN_STATES = {S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.IMPLEMENTING}


def is_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, set())
