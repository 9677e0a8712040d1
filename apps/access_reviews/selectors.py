"""Reads for pages and the API, each a fixed number of queries."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DateTimeField, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.accounts.models import ApiToken, User
from releaseportal.input import parse_id

from .models import AccessGrant, ReviewCampaign, ReviewItem


def inactive_days_limit() -> int:
    return int(getattr(settings, "ACCESS_REVIEW_INACTIVE_DAYS", 90))


ITEMS_DIGEST_FORMAT = ("sha256 of one line per item created, in item id order: "
                       "item id, grant id, reviewer id, reassigned-from id (or empty), tab-separated, newline-ended")


def campaign_items_digest(campaign_id: int) -> tuple[int, str]:
    """(count, SHA-256) of the items a campaign was opened with, read from their creation rows in
    the append-only history. The opening's audit event carries the same pair, so an auditor can
    check the chain vouches for exactly these items."""
    digest = hashlib.sha256()
    count = 0
    rows = (ReviewItem.history.filter(campaign_id=campaign_id, history_type="+").order_by("id")
            .values_list("id", "grant_id", "reviewer_id", "reassigned_from_id"))
    for item_id, grant_id, reviewer_id, reassigned_from_id in rows.iterator(chunk_size=10_000):
        digest.update(f"{item_id}\t{grant_id}\t{reviewer_id}\t{reassigned_from_id or ''}\n".encode())
        count += 1
    return count, digest.hexdigest()


def _token_activity(user_ref: str) -> Subquery:
    """Service accounts: the latest API token use counts as activity."""
    return Subquery(
        ApiToken.objects.filter(user_id=OuterRef(user_ref), user__kind=User.Kind.SERVICE_ACCOUNT,
                                last_used_at__isnull=False).order_by("-last_used_at").values("last_used_at")[:1],
        output_field=DateTimeField(),
    )


def grants_list(qs: QuerySet[AccessGrant], *, user: str = "", service: str = "", environment: str = "",
                privilege: str = "", active: bool | None = None, flagged: bool = False) -> QuerySet[AccessGrant]:
    qs = qs.select_related("user", "service", "service__owner_team", "environment", "granted_by", "revoked_by")
    if user:
        qs = qs.filter(user__username=user)
    if service:
        qs = qs.filter(service__slug=service)
    if environment:
        qs = qs.filter(environment__slug=environment)
    if privilege:
        qs = qs.filter(privilege=privilege)
    now = timezone.now()
    if active is True:
        qs = qs.active(now)
    elif active is False:
        qs = qs.exclude(pk__in=AccessGrant.objects.active(now).values("pk"))
    if flagged:
        qs = qs.filter(flagged_at__isnull=False)
    return qs.order_by("service__slug", "environment__order", "privilege", "user__username", "pk")


def with_activity(qs: QuerySet[ReviewItem]) -> QuerySet[ReviewItem]:
    return qs.annotate(
        token_last_used=_token_activity("grant__user_id"),
    ).annotate(
        last_activity=Greatest(Coalesce(F("grant__last_used_at"), F("grant__granted_at")),
                               Coalesce(F("token_last_used"), F("grant__granted_at"))),
    )


def token_activity(user_ids) -> dict[int, datetime]:
    """The latest API token use of each of these service accounts (one query; none for none)."""
    if not user_ids:
        return {}
    rows = (ApiToken.objects.filter(user_id__in=user_ids, user__kind=User.Kind.SERVICE_ACCOUNT,
                                    last_used_at__isnull=False)
            .values("user_id").annotate(last=Max("last_used_at")).values_list("user_id", "last"))
    return dict(rows)


# What a review row shows (partials/item_row.html), and nothing more. Two queries per page: the
# items (with their campaign, and on the campaign page the people named), then their grants with
# holder, service, team and environment. One query joining all eight tables cost PostgreSQL
# 15-45 ms to plan for a 1 ms execution; the two plan in about 1 ms together.
_ITEM_FIELDS = ("campaign_id", "grant_id", "reviewer_id", "reassigned_from_id", "assignment_note", "context",
                "decision", "keep_until", "justification", "decided_by_id", "decided_at", "outcome",
                "campaign__status")
_PEOPLE_RELATED = ("reviewer", "decided_by", "reassigned_from")
_PEOPLE_FIELDS = ("reviewer__username", "decided_by__username", "reassigned_from__username")
_GRANT_RELATED = ("user", "service", "service__owner_team", "environment", "granted_by")
_GRANT_FIELDS = ("user_id", "privilege", "service_id", "environment_id", "granted_by_id", "granted_at", "last_used_at",
                 "flag_reason", "revoked_at", "revoked_reason", "user__username", "user__first_name", "user__last_name", "user__kind",
                 "user__is_active", "service__slug", "service__name", "service__owner_team_id",
                 "service__owner_team__name", "environment__name", "granted_by__username")


def review_rows(qs: QuerySet[ReviewItem], *, people: bool = False) -> QuerySet[ReviewItem]:
    grants = AccessGrant.objects.select_related(*_GRANT_RELATED).only(*_GRANT_FIELDS)
    if people:
        qs = qs.select_related("campaign", *_PEOPLE_RELATED).only(*_ITEM_FIELDS, *_PEOPLE_FIELDS)
    else:
        qs = qs.select_related("campaign").only(*_ITEM_FIELDS)
    return qs.prefetch_related(Prefetch("grant", queryset=grants))


def reviewer_open_items(user, *, campaign: str = "", service: str = "", privilege: str = "", holder: str = "",
                        inactive: bool = False, flagged: bool = False) -> QuerySet[ReviewItem]:
    """The reviewer page: my undecided items in open campaigns, filtered (rows: `review_rows`)."""
    qs = ReviewItem.objects.filter(reviewer=user, decision="", campaign__status=ReviewCampaign.Status.OPEN)
    return item_filters(qs, campaign=campaign, service=service, privilege=privilege, holder=holder,
                        inactive=inactive, flagged=flagged)


def item_filters(qs, *, campaign="", service="", privilege="", holder="", inactive=False, flagged=False,
                 decision: str | None = None, reviewer: str = "", team: str = "") -> QuerySet[ReviewItem]:
    """Filters only: joins come with the filters that need them, so counting an unfiltered page
    reads the item index alone."""
    if campaign and (campaign_id := parse_id(campaign)) is not None:
        qs = qs.filter(campaign_id=campaign_id)
    if service:
        qs = qs.filter(grant__service__slug=service)
    if privilege:
        qs = qs.filter(grant__privilege=privilege)
    if holder:
        qs = qs.filter(grant__user__username__icontains=holder)
    if inactive:
        qs = with_activity(qs).filter(last_activity__lt=timezone.now() - timedelta(days=inactive_days_limit()))
    if flagged:
        qs = qs.filter(grant__flagged_at__isnull=False)
    if decision is not None:
        qs = qs.filter(decision="" if decision == "open" else decision)
    if reviewer:
        qs = qs.filter(reviewer__username=reviewer)
    if team:
        qs = qs.filter(grant__service__owner_team__slug=team)
    # Items are created in (service, holder, privilege) order, so the primary key keeps them grouped
    # by service while a page is an index range: no sort of every item a reviewer holds.
    return qs.order_by("pk")


def campaign_items(qs: QuerySet[ReviewItem], **filters) -> QuerySet[ReviewItem]:
    """The API's item list: every relation it serialises, and the last activity."""
    qs = item_filters(qs, **filters).select_related("campaign", *_PEOPLE_RELATED,
                                                    *(f"grant__{name}" for name in _GRANT_RELATED))
    return qs if filters.get("inactive") else with_activity(qs)


def campaign_completion(campaign: ReviewCampaign) -> dict:
    """Totals, per reviewer and per owning team: three queries."""
    decided = ~Q(decision="")
    totals = ReviewItem.objects.filter(campaign=campaign).aggregate(
        total=Count("id"), decided=Count("id", filter=decided),
        keep=Count("id", filter=Q(decision="keep")), revoke=Count("id", filter=Q(decision="revoke")),
        keep_until=Count("id", filter=Q(decision="keep_until")),
        revoked_applied=Count("id", filter=Q(outcome__in=["revoked", "revoked_by_policy"])),
        revoked_by_policy=Count("id", filter=Q(outcome="revoked_by_policy")),
    )
    totals["open"] = totals["total"] - totals["decided"]
    totals["percent"] = round(100 * totals["decided"] / totals["total"], 1) if totals["total"] else 100.0
    by_reviewer = list(
        ReviewItem.objects.filter(campaign=campaign).values("reviewer__username", "reviewer__first_name",
                                                             "reviewer__last_name")
        .annotate(total=Count("id"), decided=Count("id", filter=decided)).order_by("reviewer__username"))
    by_team = list(
        ReviewItem.objects.filter(campaign=campaign).values("grant__service__owner_team__name",
                                                             "grant__service__owner_team__slug")
        .annotate(total=Count("id"), decided=Count("id", filter=decided)).order_by("grant__service__owner_team__name"))
    for row in [*by_reviewer, *by_team]:
        row["percent"] = round(100 * row["decided"] / row["total"], 1) if row["total"] else 100.0
    return {**totals, "by_reviewer": by_reviewer, "by_team": by_team}


def campaigns_with_counts(qs: QuerySet[ReviewCampaign]) -> QuerySet[ReviewCampaign]:
    return qs.select_related("scope_team", "opened_by").annotate(
        item_count=Count("items"), decided_count=Count("items", filter=~Q(items__decision="")),
    ).order_by("-opened_at", "-pk")


def my_open_item_count(user) -> dict:
    row = ReviewItem.objects.filter(reviewer=user, decision="", campaign__status=ReviewCampaign.Status.OPEN).aggregate(
        n=Count("id"), campaigns=Count("campaign", distinct=True))
    return row
