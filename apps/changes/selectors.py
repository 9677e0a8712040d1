"""Reads about change requests that span relations. `schedule_blockers`,
`active_emergency_override` and `change_is_deployable` are a contract the delivery gate uses."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from apps.accounts.models import TeamMembership
from apps.catalog.privileges import APPROVER, privilege_held_q
from apps.change_types.models import StandardChangeTemplate
from releaseportal.templatetags.portal import when_text

from . import sod, workflow
from .models import (
    Approval,
    ChangeRequest,
    ChangeState,
    Delegation,
    EmergencyOverride,
    Freeze,
    InformationRequest,
    OpenStage,
)
from .schedule import freezes_for, window_occurrence, windows_for

# A change may be deployed only in these states, and only when the record backs it (approval_basis).
DEPLOYABLE_STATES = {ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTING}
# An active emergency override also covers a change it was granted on while still in review.
OVERRIDE_STATES = {ChangeState.IN_REVIEW, *DEPLOYABLE_STATES}

BASIS_APPROVALS = "approvals"
BASIS_NO_STAGE_APPLIES = "no_stage_applies"
BASIS_STANDARD_TEMPLATE = "standard_template"
BASIS_EMERGENCY_OVERRIDE = "emergency_override"


# --- contract for the delivery gate ------------------------------------------------------------

def schedule_blockers(*, service, environment, at: datetime, change: ChangeRequest | None = None) -> list[tuple[str, str]]:
    """(code, message) pairs that forbid work on service/environment at `at`."""
    blockers: list[tuple[str, str]] = []
    windows = windows_for(service, environment)
    if windows and not any(window_occurrence(w, at) for w in windows):
        blockers.append(("outside_maintenance_window",
                         f"{at:%Y-%m-%d %H:%M} UTC is outside every maintenance window for {service} in {environment}: "
                         + ", ".join(w.name for w in windows) + "."))
    is_emergency = bool(change is not None and change.change_type.is_emergency)
    if not is_emergency:
        for freeze in freezes_for(service, environment, at):
            blockers.append(("freeze_active", f"Freeze “{freeze.name}” ({freeze.scope_label}) until "
                                              f"{freeze.ends_at:%Y-%m-%d %H:%M} UTC: {freeze.reason}"))
    return blockers


def active_emergency_override(change: ChangeRequest) -> EmergencyOverride | None:
    """The authorised, unexpired, not-flagged override of an emergency change, if any."""
    return (EmergencyOverride.objects.filter(change=change, revoked_at__isnull=True, unauthorised_at__isnull=True,
                                             expires_at__gt=timezone.now())
            .order_by("-expires_at").first())


def approval_status(change: ChangeRequest) -> str:
    """The approval engine's verdict (workflow.OVERALL_*) counting only the live approvals bound to
    the change's current content: the approval's content hash equals the hash recomputed from the
    change now (so a stored hash or a field edited behind the service's back counts nothing), and
    no decision by a party to the change (sod.excluded_ids). `pending` when the content drifted."""
    current = workflow.content_hash(change)
    if change.content_hash != current:
        return workflow.OVERALL_PENDING
    # The one segregation-of-duties rule: a decision by a party to the work (requester, implementer,
    # override authoriser) backs nothing, however it was written.
    parties = sod.excluded_ids(change)
    bound = [a for a in workflow.live_approvals(change)
             if a.content_hash == current and a.approver_id not in parties and a.on_behalf_of_id not in parties]
    return workflow.evaluate(change, bound).status


def approval_basis(change: ChangeRequest) -> str | None:
    """What on the record authorises work on `change`, whatever its state says; None if nothing.

    - `approvals`: every mandatory stage that applies is approved (approval_status);
    - `no_stage_applies`: the change type asks no approval of this change and the approval engine
      approved it on submit (`approved_at` is set);
    - `standard_template`: a pre-approved standard change filed from a template still approved
      (for its service, or for any);
    - `emergency_override`: an emergency change with an active override."""
    change_type = change.change_type
    if change_type.is_pre_approved:
        template = change.standard_template
        if (template is not None and template.state == StandardChangeTemplate.State.APPROVED
                and template.service_id in (None, change.service_id)):
            return BASIS_STANDARD_TEMPLATE
        return None
    if change_type.is_emergency and active_emergency_override(change) is not None:
        return BASIS_EMERGENCY_OVERRIDE
    status = approval_status(change)
    if status == workflow.OVERALL_APPROVED:
        return BASIS_APPROVALS
    if status == workflow.OVERALL_NOT_REQUIRED and change.approved_at is not None:
        return BASIS_NO_STAGE_APPLIES
    return None


def change_is_deployable(change: ChangeRequest) -> bool:
    """Whether the gate may let `change` deploy: decided on the approval record (approval_basis),
    never on the state name alone. A change pushed into `scheduled` without approvals is not."""
    if change.state not in OVERRIDE_STATES:
        return False
    basis = approval_basis(change)
    if basis == BASIS_EMERGENCY_OVERRIDE:
        return True
    return basis is not None and change.state in DEPLOYABLE_STATES


# --- lists -------------------------------------------------------------------------------------

# The "My changes" tabs of the change list: {value: label}. "all" is any of the other three.
MINE_TABS = {"all": "All mine", "requested": "Requested by me", "implementing": "I implement",
             "approving": "Awaiting my approval"}


def my_changes_q(user, mine: str) -> Q:
    """The changes `user` has a part in, by tab (MINE_TABS): requested, implementing, or waiting
    for their decision now (the queue's own rows, cab_queue_for), or any of them."""
    requested, implementing = Q(requester_id=user.pk), Q(implementer_id=user.pk)
    if mine == "requested":
        return requested
    if mine == "implementing":
        return implementing
    approving = Q(pk__in=cab_queue_for(user)[0].stages.values("change_id"))
    if mine == "approving":
        return approving
    return requested | implementing | approving


def changes_list(*, state: str | None = None, service: str | None = None, team: str | None = None,
                 change_type: str | None = None, search: str | None = None, mine: str | None = None,
                 user=None) -> QuerySet[ChangeRequest]:
    qs = ChangeRequest.objects.select_related("service", "service__owner_team", "environment", "change_type",
                                              "requester", "implementer")
    if mine in MINE_TABS and user is not None:
        qs = qs.filter(my_changes_q(user, mine))
    if state:
        qs = qs.filter(state=state)
    if service:
        qs = qs.filter(service__slug=service)
    if team:
        qs = qs.filter(service__owner_team__slug=team)
    if change_type:
        qs = qs.filter(change_type__slug=change_type)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(number__iexact=search))
    return qs.order_by("-created_at", "-pk")


def active_delegator_ids(user, at: datetime | None = None) -> list[int]:
    at = at or timezone.now()
    return list(Delegation.objects.filter(delegate=user, revoked_at__isnull=True, starts_at__lte=at, ends_at__gt=at)
                .values_list("delegator_id", flat=True))


@dataclass
class DecisionScope:
    """What "can this person decide now?" needs for a whole queue, read once per request (two
    queries): the stages naming the person and each delegator, and whether the person may act as
    a delegate. The rest (privileges, freezes, decisions, overrides) are subqueries of the filter."""

    user: Any
    now: datetime
    own_q: Q
    delegated: dict[int, Q]
    delegate_refusal: str | None
    own_groups: set[str]
    own_teams: set[int]

    @property
    def named_q(self) -> Q:
        """Open stages naming the person, in their own right or through a delegation."""
        return reduce(operator.or_, self.delegated.values(), self.own_q)

    @property
    def delegated_q(self) -> Q | None:
        return reduce(operator.or_, self.delegated.values()) if self.delegated else None

    def decidable_q(self) -> Q:
        """Open stages the person can decide in now, as one filter: segregation of duties and
        "already decided" (sod.approval_conflict), the approver privilege on production (theirs,
        and a delegator's: sod.may_act_for) and freezes (services.approval_record)."""
        me = self.user.pk
        q = self.own_q
        if self.delegate_refusal is None:
            for delegator_id, named in self.delegated.items():
                q |= named & ~_party_q(delegator_id) & ~_decided_q(delegator_id) & _privileged_q(delegator_id)
        return q & ~_party_q(me) & ~_decided_q(me) & _privileged_q(me) & ~_frozen_q() & ~_questioned_q()


def _party_q(pk: int) -> Q:
    """The person is a party to the open stage's change (requester, implementer, override authoriser)."""
    return (Q(requester_id=pk) | Q(implementer_id=pk)
            | Q(Exists(EmergencyOverride.objects.filter(change_id=OuterRef("change_id"), authorised_by_id=pk))))


def _decided_q(pk: int) -> Q:
    live = Approval.objects.filter(change_id=OuterRef("change_id"), voided_at__isnull=True)
    return Q(Exists(live.filter(Q(approver_id=pk) | Q(on_behalf_of_id=pk))))


def _privileged_q(pk: int) -> Q:
    return Q(environment__is_production=False) | Q(privilege_held_q(pk, APPROVER))


def _covering_freezes() -> QuerySet[Freeze]:
    """Freezes over the open stage's planned slot (schedule.freezes_for, as a subquery)."""
    return (Freeze.objects.filter(starts_at__lt=OuterRef("planned_end"), ends_at__gt=OuterRef("planned_start"))
            .filter(Q(service__isnull=True) | Q(service_id=OuterRef("service_id")))
            .filter(Q(environment__isnull=True) | Q(environment_id=OuterRef("environment_id")))
            .filter(Q(team__isnull=True) | Q(team_id=OuterRef("service__owner_team_id"))))


def _frozen_q() -> Q:
    """Approval refused by a freeze: a non-emergency change whose planned slot a freeze covers."""
    return Q(Exists(_covering_freezes())) & Q(stage__change_type__is_emergency=False)


def _questioned_q() -> Q:
    """The change waits for its requester's answer to an approver's question (information.py)."""
    return Q(Exists(InformationRequest.objects.filter(change_id=OuterRef("change_id"), answered_at__isnull=True)))


def decision_scope(user, now: datetime | None = None) -> DecisionScope:
    now = now or timezone.now()
    groups: dict[int, set[str]] = {user.pk: set(user.role_names())}  # already read for the request
    # The active delegators and their roles, in one query.
    for delegator_id, name in (Delegation.objects.filter(delegate=user, revoked_at__isnull=True, starts_at__lte=now,
                                                         ends_at__gt=now)
                               .values_list("delegator_id", "delegator__groups__name")):
        groups.setdefault(delegator_id, set())
        if name:
            groups[delegator_id].add(name)
    teams: dict[int, set[int]] = {pk: set() for pk in groups}
    for pk, team_id in TeamMembership.objects.filter(user_id__in=list(groups)).values_list("user_id", "team_id"):
        teams[pk].add(team_id)

    def named(pk: int) -> Q:
        return Q(group_name__in=sorted(groups[pk]), team__isnull=True) | Q(team_id__in=sorted(teams[pk]))

    delegator_ids = sorted(pk for pk in groups if pk != user.pk)
    return DecisionScope(user=user, now=now, own_q=named(user.pk), delegated={pk: named(pk) for pk in delegator_ids},
                         delegate_refusal=sod.delegate_refusal(delegator=None, delegate=user) if delegator_ids else None,
                         own_groups=groups[user.pk], own_teams=teams[user.pk])


QUEUE_ORDER = ("planned_start", "pk")
# The queue's orders (GET ?sort=): the most urgent first by default — the earliest SLA due time of
# the person's open stages on the change (past due first) — or by planned start.
QUEUE_SORTS = {"due": "SLA due (most urgent first)", "planned": "Planned start"}
DEFAULT_QUEUE_SORT = "due"


class WaitingQueue:
    """The changes waiting for one person's decision, in planned-start order: what the queue page
    pages through and the dashboard panel shows.

    Built from the person's open stages, which carry copies of what the queue filters and sorts on
    (see OpenStage): a slice picks its change ids from those rows alone, walking them in planned-start
    order, then loads only those changes with their service, environment, type, requester and open
    stages. `count()` is the total from the queue's counts (the same rows), so the paginator asks
    nothing more.

    Each row carries `waiting_in` (its open stages in order), `next_due` (the first one's due
    time), `for_me` (in the person's own right, not only as a delegate) and `is_overdue` (one of
    the person's stages is past its SLA)."""

    def __init__(self, *, stages: QuerySet[OpenStage], total: int, own_q: Q, who: Q, now: datetime,
                 sort: str = DEFAULT_QUEUE_SORT):
        self.stages = stages
        self.total = total
        self.sort = sort if sort in QUEUE_SORTS else DEFAULT_QUEUE_SORT
        self._own_q, self._who, self._now = own_q, who, now

    @property
    def waiting(self) -> QuerySet[ChangeRequest]:
        """Every waiting change, as a queryset (for ids; the rows come from slicing the queue)."""
        return ChangeRequest.objects.filter(pk__in=self.stages.values("change_id")).order_by(*QUEUE_ORDER)

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, key):
        if isinstance(key, int):
            return self[key:key + 1][0]
        # A change with two of the person's stages open is listed once, at its most urgent stage.
        if self.sort == "due":
            ids = list(self.stages.order_by().values("change_id").annotate(first_due=Min("due_at"))
                       .order_by("first_due", "change_id").values_list("change_id", flat=True)[key])
        else:
            ids = [pk for pk, _ in self.stages.order_by("planned_start", "change_id").values_list(
                "change_id", "planned_start").distinct()[key]]
        if not ids:
            return []
        stages = OpenStage.objects.select_related("stage").only(
            "change_id", "due_at", "stage__name", "stage__rule", "stage__quorum").annotate(
            own=ExpressionWrapper(self._own_q, output_field=BooleanField()),
            overdue=ExpressionWrapper(self._who & Q(due_at__lt=self._now), output_field=BooleanField()),
        ).order_by("stage__order")
        rows = list(ChangeRequest.objects.filter(pk__in=ids).select_related(
            "service", "environment", "change_type", "requester").only(
            "number", "title", "planned_start", "risk_level", "cab_required", "service__name", "environment__slug",
            "change_type__name", "change_type__is_emergency", "requester__username", "requester__first_name",
            "requester__last_name",
        ).prefetch_related(Prefetch("open_stages", queryset=stages, to_attr="waiting_in")))
        position = {pk: i for i, pk in enumerate(ids)}
        rows.sort(key=lambda change: position[change.pk])
        for change in rows:
            change.for_me = any(s.own for s in change.waiting_in)
            change.is_overdue = any(s.overdue for s in change.waiting_in)
            change.next_due = min((s.due_at for s in change.waiting_in), default=None)
            change.is_standard = is_standard_change(change)
        return rows


def is_standard_change(change: ChangeRequest) -> bool:
    """A routine change the queue lets an approver approve in bulk: low risk, no CAB review, not an
    emergency. (Pre-approved standard changes never reach a queue; these are the standard-risk
    changes that still need a signature.) Each one still goes through approval_record alone."""
    return change.risk_level == "low" and not change.cab_required and not change.change_type.is_emergency


def cab_queue_for(user, *, service: str | None = None, team: str | None = None, change_type: str | None = None,
                  risk: str | None = None, delegated_only: bool = False, sort: str = DEFAULT_QUEUE_SORT,
                  scope: DecisionScope | None = None) -> tuple[WaitingQueue, dict]:
    """Changes `user` can decide now, directly or as a delegate, and counts by kind.

    Only what a decision would be accepted on (DecisionScope.decidable_q: segregation of duties,
    already decided, the approver privilege on production, freezes); `blocked_for` explains the
    rest. A fixed number of queries whatever the size of the queue. The list, its pages and the
    counts all come from the person's open stages (a few thousand rows, never every change ever
    filed), filtered on the copies those rows keep of their change."""
    now = timezone.now()
    if not user.is_authenticated or getattr(user, "kind", "human") != "human":
        return (WaitingQueue(stages=OpenStage.objects.none(), total=0, own_q=Q(pk__in=[]), who=Q(pk__in=[]),
                             now=now), {"total": 0, "own": 0, "delegated": 0, "overdue": 0})
    scope = scope or decision_scope(user, now)
    own_q, delegated_q = scope.own_q, scope.delegated_q
    who = own_q | delegated_q if delegated_q is not None else own_q
    stages = _filtered(OpenStage.objects.filter(scope.decidable_q()), service=service, team=team,
                       change_type=change_type, risk=risk)
    if delegated_only:
        stages = stages.exclude(change_id__in=OpenStage.objects.filter(own_q).values("change_id"))
    counts = stages.aggregate(total=Count("change_id", distinct=True),
                              own=Count("change_id", distinct=True, filter=own_q),
                              overdue=Count("change_id", distinct=True, filter=Q(due_at__lt=now)))
    counts["delegated"] = counts["total"] - counts["own"]
    queue = WaitingQueue(stages=stages, total=counts["total"], own_q=own_q, who=who, now=now, sort=sort)
    queue.scope = scope
    return queue, counts


def _filtered(stages: QuerySet[OpenStage], *, service=None, team=None, change_type=None, risk=None):
    if service:
        stages = stages.filter(service__slug=service)
    if team:
        stages = stages.filter(service__owner_team__slug=team)
    if change_type:
        stages = stages.filter(stage__change_type__slug=change_type)
    if risk:
        stages = stages.filter(risk_level=risk)
    return stages


BLOCKED_SHOWN = 20


def blocked_for(user, *, scope: DecisionScope, service: str | None = None, team: str | None = None,
                change_type: str | None = None, risk: str | None = None) -> dict:
    """The changes waiting in a stage that names `user` (or a delegator) which they cannot decide
    now, each with why: already decided, segregation of duties, the approver privilege missing,
    a freeze, or only as a delegate who cannot. Plus changes where their stage is not open yet.
    {"total": n, "rows": [first BLOCKED_SHOWN rows]}; two queries, whatever the number."""
    me = user.pk
    decidable = OpenStage.objects.filter(scope.decidable_q()).values("change_id")
    stages = _filtered(OpenStage.objects.filter(scope.named_q), service=service, team=team, change_type=change_type,
                       risk=risk).exclude(change_id__in=decidable)
    covering = _covering_freezes().order_by("ends_at")
    flags = {
        "decided": _decided_q(me),
        "is_requester": Q(requester_id=me), "is_implementer": Q(implementer_id=me),
        "is_authoriser": Q(Exists(EmergencyOverride.objects.filter(change_id=OuterRef("change_id"),
                                                                   authorised_by_id=me))),
        "unprivileged": ~_privileged_q(me),
        "frozen": _frozen_q(),
        "questioned": _questioned_q(),
        "own": scope.own_q,
    }
    total = stages.aggregate(n=Count("change_id", distinct=True))["n"]
    rows = (stages.annotate(**{k: ExpressionWrapper(q, output_field=BooleanField()) for k, q in flags.items()},
                            freeze_name=Subquery(covering.values("name")[:1]),
                            freeze_ends_at=Subquery(covering.values("ends_at")[:1]))
            .order_by("planned_start", "change_id", "stage__order")
            .values("change_id", "change__number", "change__title", "service__name", "stage__name", "freeze_name",
                    "freeze_ends_at", *flags)
            [:BLOCKED_SHOWN * 4])
    shown: dict[int, dict] = {}
    for row in rows:
        if row["change_id"] in shown:
            continue
        row["reason"], row["explanation"] = _why_not(row, scope)
        shown[row["change_id"]] = row
        if len(shown) == BLOCKED_SHOWN:
            break
    waiting = (_filtered(OpenStage.objects.filter(_stage_not_open_q(scope)), service=service, team=team,
                         change_type=change_type, risk=risk)
               .exclude(change_id__in=OpenStage.objects.filter(scope.named_q).values("change_id"))
               .exclude(_party_q(me)).exclude(_decided_q(me))
               .order_by("planned_start", "change_id", "stage__order")
               .values("change_id", "change__number", "change__title", "service__name", "stage__name")
               [:BLOCKED_SHOWN * 2])
    for row in waiting:
        if row["change_id"] in shown or len(shown) >= BLOCKED_SHOWN:
            continue
        row["reason"] = "stage_not_open"
        row["explanation"] = (f"Your stage is not open yet: it opens once “{row['stage__name']}” approves.")
        shown[row["change_id"]] = row
    return {"total": total, "rows": list(shown.values())}


def _stage_not_open_q(scope: DecisionScope) -> Q:
    """Open stages of changes where a later stage names the person (in their own right) and applies
    (workflow.stage_applies): their stage waits for this one (approval_target's `stage_not_open`)."""
    from apps.change_types.models import ApprovalStage

    later = ApprovalStage.objects.filter(change_type_id=OuterRef("stage__change_type_id"),
                                         order__gt=OuterRef("stage__order"))
    kinds = ApprovalStage.ApproverKind

    def names_me(**applies) -> Q:
        by_group = Q(Exists(later.filter(approver_kind=kinds.GROUP, approver_group__in=sorted(scope.own_groups),
                                         **applies)))
        by_team = Q(Exists(later.filter(approver_kind=kinds.OWNING_TEAM, **applies))) & Q(
            service__owner_team_id__in=sorted(scope.own_teams))
        return by_group | by_team

    when = ApprovalStage.AppliesWhen
    return (names_me(applies_when=when.ALWAYS)
            | (names_me(applies_when=when.CAB) & Q(change__cab_required=True))
            | (names_me(applies_when=when.DATABASE_CHANGE) & Q(change__risk_answers__database_change=True)))


def _why_not(row: dict, scope: DecisionScope) -> tuple[str, str]:
    if row["decided"]:
        return "already_decided", "You have already decided on this change; the stage waits for others."
    parties = [text for flag, text in (("is_requester", "requested"), ("is_implementer", "implement"),
                                       ("is_authoriser", "authorised the emergency override of")) if row[flag]]
    if parties:
        return "segregation_of_duties", (f"You {' and '.join(parties)} this change, so you cannot decide on it "
                                         "(segregation of duties).")
    if row["unprivileged"]:
        return "privilege_required", (f"Production change to {row['service__name']}: you do not hold the approver "
                                      "privilege (granted through an access review; revoked or expired).")
    if row["frozen"]:
        until = f" until {when_text(row['freeze_ends_at'])}" if row["freeze_ends_at"] else ""
        return "freeze_active", (f"Freeze “{row['freeze_name']}”{until} covers its planned slot: it cannot be "
                                 "approved before the freeze ends (it can still be rejected from the change page).")
    if row["questioned"]:
        return "information_requested", ("Waiting for the requester's answer to an approver's question: it returns "
                                         "to your queue when they answer.")
    if not row["own"]:
        if scope.delegate_refusal:
            return "delegate_not_eligible", f"Only as a delegate, and you cannot act as one now: {scope.delegate_refusal}"
        return "delegate_cannot", ("Only as a delegate, and the person you stand in for cannot decide it (they are "
                                   "a party to it, already decided, or lack the approver privilege).")
    return "not_decidable", "You cannot decide on this change now."



def change_detail_queryset() -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.select_related("service", "service__owner_team", "environment", "change_type",
                                                "requester", "implementer", "standard_template")


def open_emergency_overrides() -> QuerySet[EmergencyOverride]:
    return (EmergencyOverride.objects.filter(revoked_at__isnull=True, retro_approved_at__isnull=True)
            .select_related("change", "change__service", "authorised_by").order_by("expires_at"))


def overdue_post_mortems(at: datetime | None = None) -> QuerySet[ChangeRequest]:
    at = at or timezone.now()
    return (ChangeRequest.objects.filter(post_mortem_due_at__lt=at, post_mortem_at__isnull=True)
            .exclude(state=ChangeState.CLOSED).select_related("service").order_by("post_mortem_due_at"))
