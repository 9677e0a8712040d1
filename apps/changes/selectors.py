"""Reads about change requests that span relations. `schedule_blockers`,
`active_emergency_override` and `change_is_deployable` are a contract the delivery gate uses."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value
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


def _who_filters(user_id: int, delegator_ids: list[int]) -> tuple[Q, Q | None]:
    """Which open stages name the user (own right) and which name their delegators: two queries."""
    from apps.accounts.models import TeamMembership, User

    principals = [user_id, *delegator_ids]
    groups: dict[int, set[str]] = {pk: set() for pk in principals}
    teams: dict[int, set[int]] = {pk: set() for pk in principals}
    for pk, name in User.groups.through.objects.filter(user_id__in=principals).values_list("user_id", "group__name"):
        groups[pk].add(name)
    for pk, team_id in TeamMembership.objects.filter(user_id__in=principals).values_list("user_id", "team_id"):
        teams[pk].add(team_id)

    def q_for(ids: list[int]) -> Q:
        names = set().union(*(groups[i] for i in ids))
        team_ids = set().union(*(teams[i] for i in ids))
        return Q(group_name__in=sorted(names), team__isnull=True) | Q(team_id__in=sorted(team_ids))

    return q_for([user_id]), (q_for(delegator_ids) if delegator_ids else None)


def cab_queue_for(user, *, service: str | None = None, team: str | None = None, change_type: str | None = None,
                  risk: str | None = None, delegated_only: bool = False) -> tuple[QuerySet[ChangeRequest], dict]:
    """Changes waiting for `user`'s decision, directly or as a delegate, and counts by kind.

    A fixed number of queries whatever the size of the queue."""
    if not user.is_authenticated or getattr(user, "kind", "human") != "human":
        return ChangeRequest.objects.none(), {"total": 0, "own": 0, "delegated": 0, "overdue": 0}
    delegators = active_delegator_ids(user)
    now = timezone.now()
    own_q, delegated_q = _who_filters(user.pk, delegators)
    stages_own = OpenStage.objects.filter(own_q, change=OuterRef("pk"))
    stages_delegated = OpenStage.objects.filter(delegated_q, change=OuterRef("pk")) if delegators else None
    decided = Approval.objects.filter(change=OuterRef("pk"), voided_at__isnull=True).filter(
        Q(approver=user) | Q(on_behalf_of=user))
    # Drive the query from the (small) set of open stages, not from every change ever filed.
    who = own_q | delegated_q if delegated_q is not None else own_q
    overdue = OpenStage.objects.filter(who, change=OuterRef("pk"), due_at__lt=now)
    waiting_ids = OpenStage.objects.filter(who).values("change_id")
    qs = ChangeRequest.objects.filter(pk__in=waiting_ids).annotate(
        for_me=Exists(stages_own),
        for_delegator=Exists(stages_delegated) if stages_delegated is not None else Value(False, output_field=BooleanField()),
        is_overdue=Exists(overdue),
    ).exclude(requester=user).exclude(implementer=user).exclude(Exists(decided))
    # Counts come from the open stages joined to their changes: a few thousand index probes,
    # never a scan of every change.
    rows = OpenStage.objects.filter(who).exclude(change__requester=user).exclude(change__implementer=user).exclude(
        Exists(Approval.objects.filter(change=OuterRef("change_id"), voided_at__isnull=True).filter(
            Q(approver=user) | Q(on_behalf_of=user))))
    filters = {}
    if service:
        filters["service__slug"] = service
    if team:
        filters["service__owner_team__slug"] = team
    if change_type:
        filters["change_type__slug"] = change_type
    if risk:
        filters["risk_level"] = risk
    qs = qs.filter(**filters)
    rows = rows.filter(**{f"change__{k}": v for k, v in filters.items()})
    if delegated_only:
        qs = qs.filter(for_me=False)
        rows = rows.exclude(change_id__in=OpenStage.objects.filter(own_q).values("change_id"))
    counts = rows.aggregate(total=Count("change_id", distinct=True),
                            own=Count("change_id", distinct=True, filter=own_q),
                            overdue=Count("change_id", distinct=True, filter=Q(due_at__lt=now)))
    counts["delegated"] = counts["total"] - counts["own"]
    qs = qs.select_related("service", "service__owner_team", "environment", "change_type", "requester").prefetch_related(
        Prefetch("open_stages", queryset=OpenStage.objects.select_related("stage").order_by("stage__order"))
    ).order_by("planned_start", "pk")
    return qs, counts


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
