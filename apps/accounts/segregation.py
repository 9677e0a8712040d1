"""Segregation of duties: the one rule every decision path asks (DESIGN.md invariant 3).

A decision is someone vouching for someone else's work. It is refused when the person deciding
(or the person they decide for, as a delegate) is a party to that work: requested it, implements
it, authorised its emergency override, issued or holds the grant under review. People who
already decided count once: approvers in one change are distinct people. A pipeline, service
account or the system never decides.

Each app names the parties of its own records (apps.changes.sod for a change, access reviews for
a grant) and asks `duty_conflict`; nothing else decides who is excluded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from releaseportal.errors import Conflict, NotAllowed, PortalError

# The parts a person can play in the work under decision, worded for a refusal.
REQUESTER = "requester"
IMPLEMENTER = "implementer"
OVERRIDE_AUTHORISER = "override_authoriser"
GRANT_ISSUER = "grant_issuer"
GRANT_HOLDER = "grant_holder"

# (you ..., she ...) for each part.
PARTY_WORDS = {
    REQUESTER: ("requested", "requested"),
    IMPLEMENTER: ("implement", "implements"),
    OVERRIDE_AUTHORISER: ("authorised the emergency override of", "authorised the emergency override of"),
    GRANT_ISSUER: ("issued", "issued"),
    GRANT_HOLDER: ("hold", "holds"),
}

# Refusal codes (API.md): a party to the work, not a person at all, or a second decision.
SELF_APPROVAL = "self_approval_forbidden"
NOT_A_PERSON = "not_an_approver"
ALREADY_DECIDED = "already_decided"


@dataclass(frozen=True)
class DutyConflict:
    """Why a decision is refused: `code` for the API, `party` (the part played, or "" for
    not-a-person / already-decided), `user_id` (who played it) and a sentence for a person."""

    code: str
    party: str
    user_id: int | None
    message: str

    def error(self, field: str | None = None) -> PortalError:
        fields = {field: [self.message]} if field else {}
        if self.code == ALREADY_DECIDED:
            return Conflict(self.message, code=self.code, fields=fields)
        return NotAllowed(self.message, code=self.code, fields=fields)


def is_person(user) -> bool:
    """Only active people decide: never a pipeline, a service account or the system account."""
    return bool(user is not None and getattr(user, "is_active", False) and getattr(user, "kind", "human") == "human")


def duty_conflict(*, user, parties: Mapping[str, Iterable[int | None]], on_behalf_of=None,
                  decided_ids: Iterable[int] = (), what: str = "this") -> DutyConflict | None:
    """The segregation-of-duties refusal a decision by `user` (for `on_behalf_of`, when deciding as
    a delegate) gets on work whose `parties` are {party: user ids}, or None when it may stand.

    `decided_ids` are the people with a live decision on the same work already (as approver or
    as the one decided for). `what` names the work in the message ("this change", "this grant")."""
    if not is_person(user):
        return DutyConflict(NOT_A_PERSON, "", getattr(user, "pk", None),
                            "Pipelines and service accounts never approve changes."
                            if what.endswith("change") else "Only a person decides; service accounts never do.")
    decided = set(decided_ids)
    principals = [(user, "You")]
    if on_behalf_of is not None:
        principals.append((on_behalf_of, on_behalf_of.username))
    for person, who in principals:
        for party, ids in parties.items():
            if person.pk in {pk for pk in ids if pk}:
                you, they = PARTY_WORDS[party]
                if who == "You":
                    message = f"You {you} {what}, so you cannot decide on it (segregation of duties)."
                else:
                    message = f"{who} {they} {what}: nobody decides on it in their place (segregation of duties)."
                return DutyConflict(SELF_APPROVAL, party, person.pk, message)
    for person, who in principals:
        if person.pk in decided:
            message = ("You have already decided on " + what + "." if who == "You"
                       else f"{who} has already decided on {what}: one decision per person.")
            return DutyConflict(ALREADY_DECIDED, "", person.pk, message)
    return None


def require_separate_duties(**kwargs) -> None:
    """`duty_conflict`, raised: NotAllowed (403) for a party or a non-person, Conflict (409) for a
    second decision."""
    conflict = duty_conflict(**kwargs)
    if conflict is not None:
        raise conflict.error()
