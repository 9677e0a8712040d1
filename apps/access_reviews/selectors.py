"""Reads for pages and the API, each a fixed number of queries."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DateTimeField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.accounts.models import ApiToken, User

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


def reviewer_open_items(user, *, campaign: str = "", service: str = "", privilege: str = "", holder: str = "",
                        inactive: bool = False, flagged: bool = False) -> QuerySet[ReviewItem]:
    """The reviewer page: my undecided items in open campaigns."""
    qs = ReviewItem.objects.filter(reviewer=user, decision="", campaign__status=ReviewCampaign.Status.OPEN)
    return _item_filters(qs, campaign=campaign, service=service, privilege=privilege, holder=holder,
                         inactive=inactive, flagged=flagged)


def _item_filters(qs, *, campaign="", service="", privilege="", holder="", inactive=False, flagged=False,
                  decision: str | None = None, reviewer: str = "", team: str = ""):
    qs = with_activity(qs.select_related(
        "campaign", "grant", "grant__user", "grant__service", "grant__service__owner_team", "grant__environment",
        "grant__granted_by", "reviewer", "decided_by", "reassigned_from"))
    if campaign and str(campaign).isdigit():
        qs = qs.filter(campaign_id=int(campaign))
    if service:
        qs = qs.filter(grant__service__slug=service)
    if privilege:
        qs = qs.filter(grant__privilege=privilege)
    if holder:
        qs = qs.filter(grant__user__username__icontains=holder)
    if inactive:
        qs = qs.filter(last_activity__lt=timezone.now() - timedelta(days=inactive_days_limit()))
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
    return _item_filters(qs, **filters)


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
