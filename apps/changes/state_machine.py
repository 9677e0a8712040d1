"""The change request state machine: the one table of allowed transitions, and the moves a person
may make by hand. The rules beyond the table (approval, override, post-mortem, rollback plan) are
checked next to it, in services.change_transition, for every caller."""

from __future__ import annotations

from .models import ChangeState as S

# Work (scheduled, implementing) is reachable only from `approved`, except two doors each guarded
# on the record: draft → scheduled for a pre-approved standard change at submit, and
# in_review → implementing for an emergency change on an active override. Going back
# (in_review → draft, approved/scheduled → in_review) voids the live approvals, with the reason.
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

# Reached only through the approval engine, submit and edits.
DECISION_STATES = {S.APPROVED, S.REJECTED, S.IN_REVIEW}

# The moves offered on the Lifecycle panel and POST /transition/: the table less the states reached
# by deciding, submitting or editing, and less draft → scheduled (only a standard change at submit).
MANUAL_MOVES: dict[str, set[str]] = {
    state: targets - DECISION_STATES - ({S.SCHEDULED} if state == S.DRAFT else set())
    for state, targets in TRANSITIONS.items()
}
# Order of the buttons on the Lifecycle panel.
MANUAL_ORDER = [S.SCHEDULED, S.IMPLEMENTING, S.COMPLETED, S.FAILED, S.ROLLED_BACK, S.CANCELLED, S.CLOSED, S.DRAFT]
# What a release manager who neither requested nor implements the change may move it to: they plan
# and administer, they do not carry out someone else's change.
RELEASE_MANAGER_MOVES = {S.SCHEDULED, S.CANCELLED, S.CLOSED}

TERMINAL = {S.CLOSED}
OPEN_STATES = {S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.IMPLEMENTING}
# After work started: an emergency change documents its rollback here before it may close.
STARTED_STATES = {S.IMPLEMENTING, S.COMPLETED, S.FAILED, S.ROLLED_BACK}
EDITABLE_STATES = {S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED}


def is_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, set())
