"""Segregation of duties for change requests: who the parties of a change are, and who may
decide for whom. Every decision path (approval_target, approval_record, CAB meetings, the
retrospective approval of an emergency change, delegation, the queue) asks these functions;
the rule itself is apps.accounts.segregation.duty_conflict."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from apps.accounts import segregation
from apps.accounts.models import User
from apps.accounts.roles import ACCESS_ADMIN, APPROVER, AUDITOR, CAB_MEMBER, EXECUTIVE, REQUESTER
from apps.accounts.segregation import DutyConflict, duty_conflict, is_person
from apps.catalog import privileges
from apps.change_types.models import ApprovalStage
from releaseportal.errors import InvalidInput

from .models import Approval, ChangeRequest, EmergencyOverride

# Independent oversight: whoever audits or reports on approvals never makes them, not even as
# someone's delegate (an auditor who also holds an approving role is still an auditor).
OVERSIGHT_ROLES = frozenset({AUDITOR, EXECUTIVE})
# Roles that never name a stage of their own: filing changes, administering access.
NON_DECIDING_ROLES = frozenset({REQUESTER, ACCESS_ADMIN}) | OVERSIGHT_ROLES


def change_parties(change: ChangeRequest) -> dict[str, set[int]]:
    """The people whose work the change is: its requester, its implementer and whoever authorised
    its emergency override (revoked overrides too: she still vouched for it)."""
    authorisers = set(EmergencyOverride.objects.filter(change_id=change.pk).values_list("authorised_by_id", flat=True))
    return {segregation.REQUESTER: {change.requester_id}, segregation.IMPLEMENTER: {change.implementer_id} - {None},
            segregation.OVERRIDE_AUTHORISER: authorisers}


def excluded_ids(change: ChangeRequest) -> set[int]:
    """Everyone segregation of duties keeps out of the change's decisions."""
    return set().union(*change_parties(change).values())


def decided_ids(live: Iterable[Approval]) -> set[int]:
    """Everyone with a live decision on the change: as the approver or as the one decided for."""
    ids: set[int] = set()
    for approval in live:
        ids.add(approval.approver_id)
        if approval.on_behalf_of_id:
            ids.add(approval.on_behalf_of_id)
    return ids


def approval_conflict(*, change: ChangeRequest, user, on_behalf_of=None, live: Iterable[Approval] | None = None,
                      parties: dict[str, set[int]] | None = None) -> DutyConflict | None:
    """The segregation-of-duties refusal of `user` deciding on `change` (for `on_behalf_of` when
    deciding as a delegate), or None. `live` are the change's live approvals (read when omitted)."""
    if live is None:
        live = change.approvals.filter(voided_at__isnull=True).only("approver_id", "on_behalf_of_id")
    return duty_conflict(user=user, parties=parties if parties is not None else change_parties(change),
                         on_behalf_of=on_behalf_of, decided_ids=decided_ids(live), what="this change")


def approval_require_separate_duties(*, change: ChangeRequest, user, on_behalf_of=None,
                                     live: Iterable[Approval] | None = None) -> None:
    conflict = approval_conflict(change=change, user=user, on_behalf_of=on_behalf_of, live=live)
    if conflict is not None:
        raise conflict.error()


def approval_conflicts(*, user, changes: Iterable[ChangeRequest]) -> dict[int, DutyConflict]:
    """`approval_conflict` for many changes at once (a CAB agenda), in two queries: {change id: conflict}."""
    changes = list(changes)
    ids = [c.pk for c in changes]
    authorised = set(EmergencyOverride.objects.filter(change_id__in=ids, authorised_by_id=user.pk)
                     .values_list("change_id", flat=True))
    decided = set(Approval.objects.filter(change_id__in=ids, voided_at__isnull=True)
                  .filter(Q(approver_id=user.pk) | Q(on_behalf_of_id=user.pk)).values_list("change_id", flat=True))
    found = {}
    for change in changes:
        parties = {segregation.REQUESTER: {change.requester_id},
                   segregation.IMPLEMENTER: {change.implementer_id} - {None},
                   segregation.OVERRIDE_AUTHORISER: {user.pk} if change.pk in authorised else set()}
        conflict = duty_conflict(user=user, parties=parties, decided_ids={user.pk} if change.pk in decided else (),
                                 what="this change")
        if conflict is not None:
            found[change.pk] = conflict
    return found


# --- delegation --------------------------------------------------------------------------------

def deciding_roles() -> set[str]:
    """Roles that decide in some stage: approver, CAB member and every group a stage names."""
    named = set(ApprovalStage.objects.exclude(approver_group="").order_by().values_list("approver_group", flat=True)
                .distinct())
    return ({APPROVER, CAB_MEMBER} | named) - NON_DECIDING_ROLES


def delegate_refusal(*, delegator, delegate, roles: set[str] | None = None) -> str | None:
    """Why `delegate` may not decide in `delegator`'s place, or None. A delegate decides with the
    delegator's authority, so must be someone who could hold it: an active person (not an admin
    account) with a deciding role of their own, and no oversight role."""
    if delegate is None:
        return "Choose a colleague."
    if delegator is not None and delegate.pk == delegator.pk:
        return "You cannot delegate to yourself."
    if not is_person(delegate):
        return "Decisions can only be delegated to an active person, never a service account."
    if delegate.is_superuser:
        return f"{delegate.username} is an administrator account: administrators do not decide on changes."
    held = delegate.role_names()
    oversight = held & OVERSIGHT_ROLES
    if oversight:
        return (f"{delegate.username} is an {' and '.join(sorted(oversight))}: oversight roles never decide on "
                "changes (segregation of duties).")
    # Approver and CAB member always decide somewhere; other groups only if a stage names them.
    if not held & {APPROVER, CAB_MEMBER} and not held & (roles if roles is not None else deciding_roles()):
        return (f"{delegate.username} holds no approving role (approver, CAB member or a stage's group), so cannot "
                "decide in your place.")
    return None


def delegate_require_eligible(*, delegator, delegate) -> None:
    refusal = delegate_refusal(delegator=delegator, delegate=delegate)
    if refusal is not None:
        raise InvalidInput(refusal, code="delegate_not_eligible", fields={"delegate": [refusal]})


def eligible_delegates(delegator=None) -> QuerySet[User]:
    """The people `delegate_refusal` accepts, for a form's choices (one query)."""
    qs = (User.objects.filter(is_active=True, kind=User.Kind.HUMAN, is_superuser=False,
                              groups__name__in=sorted(deciding_roles()))
          .exclude(groups__name__in=sorted(OVERSIGHT_ROLES)))
    if delegator is not None:
        qs = qs.exclude(pk=delegator.pk)
    return qs.distinct().order_by("username")


def may_act_for(*, delegate, delegator, change: ChangeRequest, roles: set[str] | None = None) -> str | None:
    """Why `delegate` may not decide on `change` as `delegator`'s delegate now, or None: the
    delegate must still be eligible, and on production both must hold the approver privilege."""
    refusal = delegate_refusal(delegator=delegator, delegate=delegate, roles=roles)
    if refusal is not None:
        return refusal
    for person in (delegator, delegate):
        if not privileges.holds_privilege(person, privileges.APPROVER, change.service, change.environment):
            return (f"{person.username} does not hold the approver privilege on {change.service} (granted through "
                    "an access review).")
    return None

