"""Reads about change requests that span relations. `schedule_blockers`,
`active_emergency_override` and `change_is_deployable` are a contract the delivery gate uses."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

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

    A slice first picks its ids with a lean query (the change table, the person's open stages and
    their live approvals, nothing else), then loads only those rows with their service,
    environment, type, requester and open stages. One query over all of those tables cost
    PostgreSQL more to plan than to run (14 ms against 1 ms at 100,000 changes). `count()` is the
    total from the queue's counts, so the paginator asks nothing more.

    Each row carries `waiting_in` (its open stages in order), `next_due` (the first one's due
    time), `for_me` (in the person's own right, not only as a delegate) and `is_overdue` (one of
    the person's stages is past its SLA)."""

    def __init__(self, *, waiting: QuerySet[ChangeRequest], total: int, own_q: Q, who: Q, now: datetime):
        self.waiting = waiting
        self.total = total
        self._own_q, self._who, self._now = own_q, who, now

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, key):
        if isinstance(key, int):
            return self[key:key + 1][0]
        ids = self.waiting.values("pk")[key]
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

    A fixed number of queries whatever the size of the queue. Both the list and the counts start
    from the open stages (a few thousand rows, never every change ever filed); the counts read the
    requester and implementer copied onto those rows, so they need no join at all."""
    now = timezone.now()
    if not user.is_authenticated or getattr(user, "kind", "human") != "human":
        return (WaitingQueue(waiting=ChangeRequest.objects.none(), total=0, own_q=Q(pk__in=[]), who=Q(pk__in=[]),
                             now=now), {"total": 0, "own": 0, "delegated": 0, "overdue": 0})
    delegators = active_delegator_ids(user, now)
    own_q, delegated_q = _who_filters(user, delegators)
    who = own_q | delegated_q if delegated_q is not None else own_q

    # Segregation of duties and "already decided": never the person's own changes, never twice.
    def decided(change_ref: str) -> tuple[Exists, Exists]:
        live = Approval.objects.filter(change=OuterRef(change_ref), voided_at__isnull=True)
        return Exists(live.filter(approver=user)), Exists(live.filter(on_behalf_of=user))

    by_approver, on_behalf = decided("change_id")
    rows = OpenStage.objects.filter(who).exclude(requester=user).exclude(implementer=user).exclude(
        by_approver).exclude(on_behalf)
    # The list filters the same facts on the change's own columns: walked in planned-start order,
    # the page stops after a screenful instead of sorting every waiting change.
    by_approver, on_behalf = decided("pk")
    waiting = ChangeRequest.objects.filter(pk__in=OpenStage.objects.filter(who).values("change_id")).exclude(
        requester=user).exclude(implementer=user).exclude(by_approver).exclude(on_behalf)
    filters = {}
    if service:
        filters["service__slug"] = service
    if team:
        filters["service__owner_team__slug"] = team
    if change_type:
        filters["change_type__slug"] = change_type
    if risk:
        filters["risk_level"] = risk
    waiting = waiting.filter(**filters)
    rows = rows.filter(**{f"change__{k}": v for k, v in filters.items()})
    if delegated_only:
        own_ids = OpenStage.objects.filter(own_q).values("change_id")
        waiting = waiting.exclude(pk__in=own_ids)
        rows = rows.exclude(change_id__in=own_ids)
    counts = rows.aggregate(total=Count("change_id", distinct=True),
                            own=Count("change_id", distinct=True, filter=own_q),
                            overdue=Count("change_id", distinct=True, filter=Q(due_at__lt=now)))
    counts["delegated"] = counts["total"] - counts["own"]
    queue = WaitingQueue(waiting=waiting.order_by(*QUEUE_ORDER), total=counts["total"], own_q=own_q, who=who, now=now)
    return queue, counts


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
