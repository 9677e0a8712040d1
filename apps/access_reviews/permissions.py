"""Who may see and do what in access reviews: used by both the pages and the API.

Access admins manage grants and campaigns; auditors read everything; a reviewer sees the
campaigns they have items in and their own items; any member sees the grants they hold and,
as a team lead, the grants on their team's services. Objects outside that are 404."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from apps.accounts import segregation
from apps.accounts.permissions import is_portal_member
from apps.accounts.roles import ACCESS_ADMIN, AUDITOR

from .models import AccessGrant, ReviewCampaign, ReviewItem


def can_manage_access(user) -> bool:
    return is_portal_member(user) and not user.is_service_account and user.has_role(ACCESS_ADMIN)


def can_read_all_access(user) -> bool:
    return is_portal_member(user) and not user.is_service_account and user.has_role(ACCESS_ADMIN, AUDITOR)


def grants_visible_to(user) -> QuerySet[AccessGrant]:
    qs = AccessGrant.objects.all()
    if not is_portal_member(user):
        return qs.none()
    if can_read_all_access(user):
        return qs
    return qs.filter(Q(user=user) | Q(service__owner_team__lead=user))


def get_grant_for_user(user, pk) -> AccessGrant:
    grant = grants_visible_to(user).select_related("user", "service", "environment").filter(pk=pk).first()
    if grant is None:
        raise Http404("No such grant.")
    return grant


def campaigns_visible_to(user) -> QuerySet[ReviewCampaign]:
    qs = ReviewCampaign.objects.all()
    if not is_portal_member(user) or user.is_service_account:
        return qs.none()
    if can_read_all_access(user):
        return qs
    return qs.filter(Exists(ReviewItem.objects.filter(campaign=OuterRef("pk"), reviewer=user)))


def get_campaign_for_user(user, pk) -> ReviewCampaign:
    campaign = campaigns_visible_to(user).select_related("scope_team", "opened_by", "closed_by").filter(pk=pk).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def items_visible_to(user, campaign: ReviewCampaign | None = None) -> QuerySet[ReviewItem]:
    qs = ReviewItem.objects.all()
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    if not is_portal_member(user) or user.is_service_account:
        return qs.none()
    if can_read_all_access(user):
        return qs
    return qs.filter(reviewer=user)


def get_item_for_decision(user, pk) -> ReviewItem:
    """An item the user may try to decide: their own assignment, or any item for access admins.
    The service re-checks (self-review, already decided) under the row lock."""
    qs = ReviewItem.objects.select_related("campaign", "grant", "grant__user")
    if not can_manage_access(user):
        qs = qs.filter(reviewer=user)
    item = qs.filter(pk=pk).first() if is_portal_member(user) else None
    if item is None:
        raise Http404("No such review item.")
    return item


def is_reviewer(user) -> bool:
    return is_portal_member(user) and ReviewItem.objects.filter(reviewer=user).exists()


def review_conflict(user, grant: AccessGrant) -> segregation.DutyConflict | None:
    """Segregation of duties for a review decision (the one rule, apps.accounts.segregation):
    nobody certifies a grant they issued or hold, and only a person decides."""
    return segregation.duty_conflict(
        user=user, parties={segregation.GRANT_ISSUER: {grant.granted_by_id}, segregation.GRANT_HOLDER: {grant.user_id}},
        what="this grant")


def review_sod_q(user) -> Q:
    """The items `user` may not certify under `review_conflict`, as a filter on review items."""
    return Q(grant__user=user) | Q(grant__granted_by=user)
