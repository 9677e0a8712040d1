"""Access review pages. Thin: permissions.py decides who, services.py does the work, a
PortalError's message goes back to the page (or the htmx row)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST

from apps.accounts.models import Team, User
from apps.accounts.permissions import member_required
from apps.catalog.models import COMPLIANCE_SCOPES, Environment, Service
from releaseportal.errors import PortalError
from releaseportal.input import parse_id

from . import explain, permissions, selectors, services
from .evidence import REPORT_CONTENT_TYPES, campaign_reports_store, report_content
from .models import CampaignReport, Privilege, ReviewCampaign, ReviewItem

PAGE_SIZE = 50
# The reviewer page carries a decision form per row: smaller pages keep it fast; bulk decisions
# can still cover every item matching the filters.
REVIEW_PAGE_SIZE = 25
FILTER_NAMES = ("campaign", "service", "privilege", "holder", "inactive", "flagged")


DECISION_FILTERS = ("open", "keep", "keep_until", "revoke")
GRANT_STATUSES = {"active": "active grants", "ended": "revoked or expired grants", "all": "grants (active and ended)"}


def _checked_filters(params, choices: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """The query parameters with every filter whose value is not one of its choices taken out,
    and why each was: the list, its counters and its pagination then all describe the same
    filters, and the page says which were ignored (answered 400)."""
    cleaned = params.copy()
    invalid: dict[str, str] = {}
    for name, allowed in choices.items():
        value = params.get(name)
        if value in (None, ""):
            continue
        if value not in allowed:
            shown = ", ".join(sorted(str(v) for v in allowed)[:12]) if allowed else "none here"
            invalid[name] = f"'{value[:60]}' is not one of: {shown}."
            cleaned.pop(name, None)
    return cleaned, invalid


def _flag(request, name: str) -> bool:
    return request.GET.get(name) in ("1", "on", "true")


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else reverse(default)


def _row_context(request, item: ReviewItem, *, error: str = "", error_field: str = "", show_reviewer=False) -> dict:
    limit = selectors.inactive_days_limit()
    _mark_decidable(request.user, item)
    return {"item": item, "error": error, "error_field": error_field, "limit": limit,
            "show_reviewer": show_reviewer, "today": timezone.localdate()}


def _mark_decidable(user, item: ReviewItem) -> None:
    """`can_decide` (offer the decision form) and `sod_refusal` (why the user may not certify
    this grant: she issued or holds it; the row says it needs another reviewer)."""
    conflict = permissions.review_conflict(user, item.grant)
    item.sod_refusal = conflict.message if conflict is not None else ""
    item.can_decide = (not item.decision and item.campaign.status == ReviewCampaign.Status.OPEN and conflict is None
                       and (item.reviewer_id == user.pk or permissions.can_manage_access(user)))


def _annotate_rows(items, user, now=None) -> list[ReviewItem]:
    """Activity and permission facts per row, computed here for the rows of one page: the latest
    token use of the service accounts among them costs one small query (none without any)."""
    now = now or timezone.now()
    limit = selectors.inactive_days_limit()
    rows = list(items)
    tokens = selectors.token_activity({i.grant.user_id for i in rows if i.grant.user.kind == User.Kind.SERVICE_ACCOUNT})
    for item in rows:
        grant = item.grant
        item.token_last_used = tokens.get(grant.user_id)
        # As selectors.with_activity: the later of the grant's last use and its holder's token use.
        item.last_activity = max(grant.last_used_at or grant.granted_at, item.token_last_used or grant.granted_at)
        item.days_inactive = max(0, (now - item.last_activity).days)
        item.needs_justification = item.days_inactive > limit
        item.grant_age_days = (now - grant.granted_at).days
        _mark_decidable(user, item)
    return rows


# --- reviewer page -----------------------------------------------------------------------------

def _my_items(user, params):
    flag = lambda name: params.get(name) in ("1", "on", "true")  # noqa: E731
    return selectors.reviewer_open_items(user, campaign=params.get("campaign", ""), service=params.get("service", ""),
                                         privilege=params.get("privilege", ""),
                                         holder=(params.get("holder") or "").strip(),
                                         inactive=flag("inactive"), flagged=flag("flagged"))


@member_required
def reviews(request):
    campaigns = list(ReviewCampaign.objects.filter(status=ReviewCampaign.Status.OPEN)
                     .filter(Exists(ReviewItem.objects.filter(campaign=OuterRef("pk"), reviewer=request.user)))
                     .order_by("due_date").values("pk", "name", "due_date"))
    services = list(Service.objects.order_by("name").only("slug", "name"))
    g, invalid = _checked_filters(request.GET, {"campaign": {str(c["pk"]) for c in campaigns},
                                                "service": {s.slug for s in services}, "privilege": Privilege.values})
    qs = _my_items(request.user, g)
    page = Paginator(selectors.review_rows(qs), REVIEW_PAGE_SIZE).get_page(g.get("page"))
    rows = _annotate_rows(page.object_list, request.user)
    querystring = g.copy()
    querystring.pop("page", None)
    return render(request, "access_reviews/reviews.html", {
        "page_obj": page, "rows": rows, "filters": g, "campaigns": campaigns,
        "needs_another_reviewer": qs.filter(permissions.review_sod_q(request.user)).count(),
        "services": services, "privileges": Privilege.choices, "invalid_filters": invalid,
        "limit": selectors.inactive_days_limit(), "today": timezone.localdate(),
        "querystring_without_page": querystring.urlencode() + ("&" if querystring else ""),
        "is_admin": permissions.can_manage_access(request.user),
        "active_filters": [(name, g[name]) for name in FILTER_NAMES if g.get(name)],
    }, status=400 if invalid else 200)


def _load_row(request, pk: int) -> ReviewItem:
    item = selectors.review_rows(ReviewItem.objects.filter(pk=pk), people=True).get()
    return _annotate_rows([item], request.user)[0]


@member_required
@require_POST
def item_decide(request, pk: int):
    item = permissions.get_item_for_decision(request.user, pk)
    keep_until = parse_date(request.POST.get("keep_until") or "") if request.POST.get("keep_until") else None
    decision = request.POST.get("decision", "")
    error = error_field = ""
    status = 200
    try:
        services.item_decide(item=item, decision=decision, actor=request.user,
                             justification=request.POST.get("justification", ""),
                             keep_until=keep_until if decision == "keep_until" else None)
    except PortalError as exc:
        error, error_field, status = exc.message, next(iter(exc.fields), ""), exc.status
    row = _load_row(request, pk)
    show_reviewer = request.POST.get("show_reviewer") == "1"
    if request.headers.get("HX-Request"):
        # A refused decision answers with its 4xx and the row saying why (data-swap-errors on the row:
        # static/js/portal.js lets htmx swap it in).
        return render(request, "access_reviews/partials/item_row.html",
                      _row_context(request, row, error=error, error_field=error_field, show_reviewer=show_reviewer),
                      status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Decision recorded for {row.grant.user.username} · {row.grant.service.slug}.")
    return redirect(_safe_next(request, "access_reviews:reviews"))


@member_required
@require_POST
def items_bulk(request):
    back = _safe_next(request, "access_reviews:reviews")
    if request.POST.get("scope") == "matching":
        # Every open item of mine matching the filters the page was showing, not just this page.
        ids = list(_my_items(request.user, request.POST).values_list("pk", flat=True))
    else:
        ids = [pk for v in request.POST.getlist("items") if (pk := parse_id(v)) is not None]
    if not ids:
        messages.warning(request, "Select the items to decide first.")
        return redirect(back)
    visible = ReviewItem.objects.filter(pk__in=ids)
    if not permissions.can_manage_access(request.user):
        visible = visible.filter(reviewer=request.user)
    keep_until = parse_date(request.POST.get("keep_until") or "") if request.POST.get("keep_until") else None
    try:
        result = services.items_decide_bulk(item_ids=list(visible.values_list("pk", flat=True)),
                                            decision=request.POST.get("decision", ""), actor=request.user,
                                            justification=request.POST.get("justification", ""),
                                            keep_until=keep_until)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if result.decided:
        messages.success(request, f"{len(result.decided)} items decided.")
    if result.skipped:
        reasons = sorted(set(result.skipped.values()))
        messages.warning(request, f"{len(result.skipped)} items skipped: " + " / ".join(reasons[:3]))
    return redirect(back)


# --- campaigns ---------------------------------------------------------------------------------

@member_required
def campaign_list(request):
    qs = selectors.campaigns_with_counts(permissions.campaigns_visible_to(request.user))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "access_reviews/campaign_list.html", {
        "page_obj": page, "can_manage": permissions.can_manage_access(request.user),
        "teams": Team.objects.order_by("name").only("slug", "name"), "compliance_scopes": COMPLIANCE_SCOPES,
        "default_due": timezone.localdate() + timedelta(days=30), "scopes": ReviewCampaign.Scope.choices,
        "today": timezone.localdate(),
        "querystring_without_page": "",
    })


@member_required
@require_POST
def campaign_open(request):
    if not permissions.can_manage_access(request.user):
        raise PermissionDenied("Only access admins open campaigns.")
    p = request.POST
    team = Team.objects.filter(slug=p.get("team", "")).first() if p.get("team") else None
    due = parse_date(p.get("due_date") or "") if p.get("due_date") else None
    try:
        campaign = services.campaign_open(
            name=p.get("name", ""), due_date=due or date.min, scope=p.get("scope", ""), scope_team=team,
            scope_compliance=p.get("compliance_scope", ""), actor=request.user,
            revoke_undecided_inactive=p.get("revoke_undecided_inactive") == "on")
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("access_reviews:campaigns")
    messages.success(request, f"{campaign.name} is open with {campaign.items.count()} items.")
    return redirect("access_reviews:campaign", pk=campaign.pk)


@member_required
def campaign_detail(request, pk: int):
    campaign = permissions.get_campaign_for_user(request.user, pk)
    teams = list(Team.objects.order_by("name").only("slug", "name"))
    g, invalid = _checked_filters(request.GET, {"decision": DECISION_FILTERS, "team": {t.slug for t in teams}})
    qs = selectors.item_filters(permissions.items_visible_to(request.user, campaign),
                                decision=g.get("decision") or None, reviewer=g.get("reviewer", ""),
                                team=g.get("team", ""), service=g.get("service", ""),
                                holder=(g.get("holder") or "").strip(), inactive=_flag(request, "inactive"))
    page = Paginator(selectors.review_rows(qs, people=True), PAGE_SIZE).get_page(g.get("page"))
    querystring = g.copy()
    querystring.pop("page", None)
    read_all = permissions.can_read_all_access(request.user)
    return render(request, "access_reviews/campaign_detail.html", {
        "campaign": campaign, "completion": selectors.campaign_completion(campaign) if read_all else None,
        "page_obj": page, "rows": _annotate_rows(page.object_list, request.user), "filters": g,
        "can_manage": permissions.can_manage_access(request.user), "read_all": read_all,
        "reports": {r.format: r for r in campaign.reports.all()} if read_all else {}, "limit": selectors.inactive_days_limit(),
        "today": timezone.localdate(), "teams": teams, "invalid_filters": invalid,
        "active_filters": [name for name in ("decision", "reviewer", "team", "holder", "inactive") if g.get(name)],
        "querystring_without_page": querystring.urlencode() + ("&" if querystring else ""),
    }, status=400 if invalid else 200)


@member_required
@require_POST
def campaign_close(request, pk: int):
    campaign = permissions.get_campaign_for_user(request.user, pk)
    if not permissions.can_manage_access(request.user):
        raise PermissionDenied("Only access admins close campaigns.")
    try:
        result = services.campaign_close_request(campaign=campaign, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        if result is not None:
            messages.success(request, explain.campaign_closed_message(
                revoked=result.revoked, revoked_by_policy=result.revoked_by_policy,
                kept=result.kept + result.kept_until, tokens_disabled=result.tokens_disabled))
        else:
            messages.success(request, explain.CLOSING_MESSAGE)
    return redirect("access_reviews:campaign", pk=pk)


@member_required
def campaign_report(request, pk: int, fmt: str):
    campaign = permissions.get_campaign_for_user(request.user, pk)
    if not permissions.can_read_all_access(request.user):
        raise Http404("No such report.")
    if fmt not in CampaignReport.Format.values or campaign.status != ReviewCampaign.Status.CLOSED:
        raise Http404("No such report.")
    report = campaign.reports.filter(format=fmt).first()
    if report is None:
        # Normally stored by the task at close; written now if that has not happened yet.
        report = next(r for r in campaign_reports_store(campaign=campaign, actor=request.user, formats=[fmt])
                      if r.format == fmt)
    content = report_content(report)
    response = HttpResponse(content, content_type=REPORT_CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="access-review-{campaign.pk}.{fmt}"'
    response["X-Content-SHA256"] = report.sha256
    return response


# --- grants ------------------------------------------------------------------------------------

@member_required
def grant_list(request):
    services = list(Service.objects.order_by("name").only("slug", "name"))
    environments = list(Environment.objects.order_by("order"))
    g, invalid = _checked_filters(request.GET, {
        "status": GRANT_STATUSES, "privilege": Privilege.values, "service": {s.slug for s in services},
        "environment": {e.slug for e in environments}})
    status = g.get("status") or "active"
    active = {"active": True, "ended": False}.get(status)
    qs = selectors.grants_list(permissions.grants_visible_to(request.user), user=(g.get("user") or "").strip(),
                               service=g.get("service", ""), environment=g.get("environment", ""),
                               privilege=g.get("privilege", ""), active=active, flagged=_flag(request, "flagged"))
    page = Paginator(qs, PAGE_SIZE).get_page(g.get("page"))
    querystring = g.copy()
    querystring.pop("page", None)
    can_manage = permissions.can_manage_access(request.user)
    return render(request, "access_reviews/grant_list.html", {
        "page_obj": page, "filters": g, "status": status, "status_label": GRANT_STATUSES[status],
        "can_manage": can_manage, "invalid_filters": invalid, "services": services,
        "environments": environments, "privileges": Privilege.choices,
        "people": User.objects.filter(is_active=True).exclude(kind=User.Kind.SYSTEM).order_by("username").only(
            "username", "first_name", "last_name") if can_manage else [],
        "querystring_without_page": querystring.urlencode() + ("&" if querystring else ""),
        "read_all": permissions.can_read_all_access(request.user),
    }, status=400 if invalid else 200)


@member_required
@require_POST
def grant_new(request):
    if not permissions.can_manage_access(request.user):
        raise PermissionDenied("Only access admins grant privileges.")
    p = request.POST
    user = User.objects.filter(username=p.get("user", "")).first()
    service = Service.objects.filter(slug=p.get("service", "")).first()
    environment = Environment.objects.filter(slug=p.get("environment", "")).first()
    if not (user and service and environment):
        messages.error(request, "Choose a person, a service and an environment.")
        return redirect("access_reviews:grants")
    expires = parse_datetime(p.get("expires_at") or "") if p.get("expires_at") else None
    if expires is not None and timezone.is_naive(expires):
        expires = timezone.make_aware(expires)
    try:
        grant = services.grant_create(user=user, privilege=p.get("privilege", ""), service=service,
                                      environment=environment, justification=p.get("justification", ""),
                                      expires_at=expires, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Granted {grant.privilege} on {service.slug} ({environment.slug}) to {user.username}.")
    return redirect("access_reviews:grants")


@member_required
@require_POST
def grant_revoke(request, pk: int):
    grant = permissions.get_grant_for_user(request.user, pk)
    if not permissions.can_manage_access(request.user):
        raise PermissionDenied("Only access admins revoke privileges.")
    try:
        services.grant_revoke(grant=grant, reason=request.POST.get("reason", ""), actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, explain.grant_revoked_message(privilege=grant.get_privilege_display(),
                                                                service=grant.service.name,
                                                                holder=grant.user.display_name))
    return redirect(_safe_next(request, "access_reviews:grants"))
