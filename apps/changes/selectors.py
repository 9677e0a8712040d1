"""Reads about change requests that span relations. `schedule_blockers`,
`active_emergency_override` and `change_is_deployable` are a contract the delivery gate uses."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from . import workflow
from .models import Approval, ChangeRequest, ChangeState, Delegation, EmergencyOverride, OpenStage
from .schedule import freezes_for, window_occurrence, windows_for

DEPLOYABLE_STATES = {ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTING}


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


def change_is_deployable(change: ChangeRequest) -> bool:
    if change.state in DEPLOYABLE_STATES:
        return True
    return active_emergency_override(change) is not None


# --- lists -------------------------------------------------------------------------------------

def changes_list(*, state: str | None = None, service: str | None = None, team: str | None = None,
                 change_type: str | None = None, search: str | None = None) -> QuerySet[ChangeRequest]:
    qs = ChangeRequest.objects.select_related("service", "service__owner_team", "environment", "change_type",
                                              "requester", "implementer")
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


def _who_filters(user, delegator_ids: list[int]) -> tuple[Q, Q | None]:
    """Which open stages name the user (own right) and which name their delegators. The user's
    roles are the ones already read for the request; teams (and delegators' roles) cost a query each."""
    from apps.accounts.models import TeamMembership, User

    principals = [user.pk, *delegator_ids]
    groups: dict[int, set[str]] = {pk: set() for pk in principals}
    teams: dict[int, set[int]] = {pk: set() for pk in principals}
    groups[user.pk] = set(user.role_names())
    if delegator_ids:
        for pk, name in User.groups.through.objects.filter(user_id__in=delegator_ids).values_list("user_id",
                                                                                                  "group__name"):
            groups[pk].add(name)
    for pk, team_id in TeamMembership.objects.filter(user_id__in=principals).values_list("user_id", "team_id"):
        teams[pk].add(team_id)

    def q_for(ids: list[int]) -> Q:
        names = set().union(*(groups[i] for i in ids))
        team_ids = set().union(*(teams[i] for i in ids))
        return Q(group_name__in=sorted(names), team__isnull=True) | Q(team_id__in=sorted(team_ids))

    return q_for([user.pk]), (q_for(delegator_ids) if delegator_ids else None)


QUEUE_ORDER = ("planned_start", "pk")


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

    def __init__(self, *, stages: QuerySet[OpenStage], total: int, own_q: Q, who: Q, now: datetime):
        self.stages = stages
        self.total = total
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
        # A change with two of the person's stages open is listed once.
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
            "number", "title", "planned_start", "risk_level", "service__name", "environment__slug",
            "change_type__name", "requester__username", "requester__first_name", "requester__last_name",
        ).prefetch_related(Prefetch("open_stages", queryset=stages, to_attr="waiting_in")).order_by(*QUEUE_ORDER))
        for change in rows:
            change.for_me = any(s.own for s in change.waiting_in)
            change.is_overdue = any(s.overdue for s in change.waiting_in)
            change.next_due = change.waiting_in[0].due_at if change.waiting_in else None
        return rows


def cab_queue_for(user, *, service: str | None = None, team: str | None = None, change_type: str | None = None,
                  risk: str | None = None, delegated_only: bool = False) -> tuple[WaitingQueue, dict]:
    """Changes waiting for `user`'s decision, directly or as a delegate, and counts by kind.

    A fixed number of queries whatever the size of the queue. The list, its pages and the counts
    all come from the person's open stages (a few thousand rows, never every change ever filed),
    filtered on the copies those rows keep of their change."""
    now = timezone.now()
    if not user.is_authenticated or getattr(user, "kind", "human") != "human":
        return (WaitingQueue(stages=OpenStage.objects.none(), total=0, own_q=Q(pk__in=[]), who=Q(pk__in=[]),
                             now=now), {"total": 0, "own": 0, "delegated": 0, "overdue": 0})
    delegators = active_delegator_ids(user, now)
    own_q, delegated_q = _who_filters(user, delegators)
    who = own_q | delegated_q if delegated_q is not None else own_q
    # Segregation of duties and "already decided": never the person's own changes, never twice.
    live = Approval.objects.filter(change=OuterRef("change_id"), voided_at__isnull=True)
    stages = OpenStage.objects.filter(who).exclude(requester=user).exclude(implementer=user).exclude(
        Exists(live.filter(approver=user))).exclude(Exists(live.filter(on_behalf_of=user)))
    if service:
        stages = stages.filter(service__slug=service)
    if team:
        stages = stages.filter(service__owner_team__slug=team)
    if change_type:
        stages = stages.filter(stage__change_type__slug=change_type)
    if risk:
        stages = stages.filter(risk_level=risk)
    if delegated_only:
        stages = stages.exclude(change_id__in=OpenStage.objects.filter(own_q).values("change_id"))
    counts = stages.aggregate(total=Count("change_id", distinct=True),
                              own=Count("change_id", distinct=True, filter=own_q),
                              overdue=Count("change_id", distinct=True, filter=Q(due_at__lt=now)))
    counts["delegated"] = counts["total"] - counts["own"]
    return WaitingQueue(stages=stages, total=counts["total"], own_q=own_q, who=who, now=now), counts


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


def change_approval_record_complete(change: ChangeRequest) -> bool:
    """What the approval record says, whatever the state says: a pre-approved standard change filed
    from an approved template, or every mandatory stage approved by live approvals given on the
    content as it is now. The delivery gate asks it beside change_is_deployable."""
    if change.change_type.is_pre_approved:
        template = change.standard_template
        return template is not None and template.state == template.State.APPROVED
    approvals = workflow.live_approvals(change)
    current = workflow.content_hash(change)
    if any(a.content_hash != current for a in approvals):
        return False
    return workflow.evaluate(change, approvals).status == workflow.OVERALL_APPROVED
