"""Review campaigns: open (with reviewer assignment), decide, bulk decide, close (apply
revocations), reminders and escalation."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from apps.accounts.models import ApiToken, Team, TeamMembership, User
from apps.accounts.roles import ACCESS_ADMIN
from apps.audit.actor import resolve_actor
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many
from apps.catalog.models import COMPLIANCE_SCOPE_KEYS
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, Unprocessable

from ..models import AccessGrant, Decision, ReviewCampaign, ReviewItem
from .grants import grant_set_expiry, grants_revoke_many
from .history import history_attrs


def inactive_days_limit() -> int:
    return int(getattr(settings, "ACCESS_REVIEW_INACTIVE_DAYS", 90))


def quarter_period(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def access_admins() -> list[User]:
    return list(User.objects.filter(is_active=True, kind=User.Kind.HUMAN, groups__name=ACCESS_ADMIN)
                .order_by("username").distinct())


def _token_last_used(user_ids) -> dict[int, datetime]:
    """Service accounts: API token use counts as activity (pipelines exercise privileges through it)."""
    rows = (ApiToken.objects.filter(user_id__in=user_ids, user__kind=User.Kind.SERVICE_ACCOUNT,
                                    last_used_at__isnull=False)
            .values("user_id").annotate(last=Max("last_used_at")).values_list("user_id", "last"))
    return dict(rows)


# --- opening ---------------------------------------------------------------------------------

def _grants_in_scope(scope: str, team: Team | None, compliance: str):
    qs = (AccessGrant.objects.active().production()
          .select_related("user", "service", "service__owner_team", "environment")
          .order_by("service_id", "user_id", "privilege"))
    if scope == ReviewCampaign.Scope.TEAM:
        qs = qs.filter(service__owner_team=team)
    elif scope == ReviewCampaign.Scope.COMPLIANCE:
        qs = qs.filter(service__compliance_scopes__icontains=f'"{compliance}"')
    return qs


def _contexts(grants: list[AccessGrant]) -> dict[int, dict]:
    """Facts per grant a reviewer needs: the holder's roles and teams, and team changes since the
    grant was made (joins and departures from the membership history)."""
    user_ids = {g.user_id for g in grants}
    roles: dict[int, list[str]] = defaultdict(list)
    for user_id, name in User.groups.through.objects.filter(user_id__in=user_ids).values_list("user_id", "group__name"):
        roles[user_id].append(name)
    teams: dict[int, dict[int, str]] = defaultdict(dict)
    for user_id, team_id, slug in TeamMembership.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "team_id", "team__slug"):
        teams[user_id][team_id] = slug
    earliest = min((g.granted_at for g in grants), default=timezone.now())
    changes: dict[int, list[tuple]] = defaultdict(list)
    history = TeamMembership.history.model.objects.filter(user_id__in=user_ids, history_date__gte=earliest,
                                                          history_type__in=["+", "-"])
    team_names = dict(Team.objects.values_list("pk", "slug"))
    for user_id, team_id, kind, when in history.values_list("user_id", "team_id", "history_type", "history_date"):
        verb = "joined" if kind == "+" else "left"
        changes[user_id].append((when, team_id, f"{verb} {team_names.get(team_id, team_id)}", kind))
    out = {}
    for g in grants:
        # Joining the owning team after the grant is expected; departures and moves elsewhere are news.
        since = [f"{text} on {when:%Y-%m-%d}" for when, team_id, text, kind in sorted(changes[g.user_id])
                 if when >= g.granted_at and not (kind == "+" and team_id == g.service.owner_team_id)]
        out[g.pk] = {
            "kind": g.user.kind,
            "roles": sorted(roles[g.user_id]),
            "teams": sorted(teams[g.user_id].values()),
            "in_owner_team": g.service.owner_team_id in teams[g.user_id]
            or (g.user.kind == User.Kind.SERVICE_ACCOUNT and g.user.owner_team_id == g.service.owner_team_id),
            "team_changes": since[-5:],
            "flag": g.flag_reason,
        }
    return out


def _assign(grants: list[AccessGrant], admins: list[User]) -> list[tuple[User, User | None, str]]:
    """(reviewer, reassigned_from, note) per grant: the owning team's lead, else the access admin
    with the fewest items so far; never the holder of the grant."""
    load: Counter[int] = Counter()
    result = []

    def least_loaded(exclude_id: int) -> User | None:
        candidates = [a for a in admins if a.pk != exclude_id]
        if not candidates:
            return None
        return min(candidates, key=lambda a: (load[a.pk], a.username))

    for g in grants:
        lead = g.service.owner_team.lead
        if lead is not None and lead.is_active and lead.pk != g.user_id:
            reviewer, original, note = lead, None, ""
        elif lead is not None and lead.pk == g.user_id:
            reviewer, original, note = least_loaded(g.user_id), lead, "Reassigned: the team lead holds this grant"
        else:
            reviewer, original, note = least_loaded(g.user_id), None, "No active team lead: access admin reviews"
        if reviewer is None:
            raise Unprocessable(f"Nobody but the holder could review {g}: add an access admin first.",
                                code="no_reviewer_available")
        load[reviewer.pk] += 1
        result.append((reviewer, original, note))
    return result


def campaign_open(*, name: str, due_date: date, actor: Any, scope: str = ReviewCampaign.Scope.ALL_PRODUCTION,
                  scope_team: Team | None = None, scope_compliance: str = "", period: str = "",
                  revoke_undecided_inactive: bool = True, now: datetime | None = None) -> ReviewCampaign:
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    fields: dict[str, list[str]] = {}
    if not (name or "").strip():
        fields["name"] = ["This field is required."]
    if due_date is None or due_date <= now.date():
        fields["due_date"] = ["Must be after today."]
    if scope not in ReviewCampaign.Scope.values:
        fields["scope"] = [f"One of: {', '.join(ReviewCampaign.Scope.values)}."]
    if scope == ReviewCampaign.Scope.TEAM and scope_team is None:
        fields["team"] = ["A team campaign names its team."]
    if scope == ReviewCampaign.Scope.COMPLIANCE and scope_compliance not in COMPLIANCE_SCOPE_KEYS:
        fields["compliance_scope"] = [f"One of: {', '.join(COMPLIANCE_SCOPE_KEYS)}."]
    if fields:
        raise InvalidInput("The campaign is not valid: " + ", ".join(fields) + ".", fields=fields)

    grants = list(_grants_in_scope(scope, scope_team, scope_compliance).select_related("service__owner_team__lead"))
    assignments = _assign(grants, access_admins())
    contexts = _contexts(grants)
    history_user, attrs = history_attrs(resolved)
    with transaction.atomic():
        campaign = ReviewCampaign(
            name=name.strip()[:150], scope=scope, scope_team=scope_team if scope == ReviewCampaign.Scope.TEAM else None,
            scope_compliance=scope_compliance if scope == ReviewCampaign.Scope.COMPLIANCE else "", period=period,
            opened_at=now, opened_by=resolved.user, due_date=due_date,
            revoke_undecided_inactive=revoke_undecided_inactive,
        )
        campaign._history_user = resolved.user
        try:
            with transaction.atomic():
                campaign.save()
        except IntegrityError as exc:
            raise Conflict(f"A campaign for {period} exists already.", code="campaign_exists") from exc
        items = [
            ReviewItem(campaign=campaign, grant=g, reviewer=reviewer, reassigned_from=original, assignment_note=note,
                       context=contexts[g.pk])
            for g, (reviewer, original, note) in zip(grants, assignments, strict=True)
        ]
        items = bulk_create_with_history(items, ReviewItem, batch_size=2000, default_user=history_user,
                                         default_change_reason="assigned", default_date=now,
                                         custom_historical_attrs=attrs)
        campaign.reviewers.set({reviewer.pk for reviewer, _, _ in assignments})
        events = [PendingEvent(action="access_review.campaign_opened", target=campaign, details={
            "scope": campaign.scope_label(), "due_date": due_date.isoformat(), "items": len(items),
            "period": period, "reviewers": len({r.pk for r, _, _ in assignments}),
        })]
        events += [
            PendingEvent(action="access_review.item_assigned", object_type="access_reviews.reviewitem",
                         object_id=str(item.pk), object_repr=f"{g.user.username} · {g.privilege} · {g.service.slug}",
                         details={"campaign": campaign.pk, "grant": g.pk, "reviewer": reviewer.username,
                                  **({"reassigned_from": original.username, "note": note} if original else {})})
            for item, g, (reviewer, original, note) in zip(items, grants, assignments, strict=True)
        ]
        audit_events_record_many(events=events, actor=resolved)
        transaction.on_commit(lambda: _notify_opened(campaign.pk))
    return campaign


def campaign_open_quarterly(*, actor: Any, today: date | None = None) -> tuple[ReviewCampaign, bool]:
    """The quarterly all-production campaign for the quarter containing `today`; opens it once."""
    today = today or timezone.localdate()
    period = quarter_period(today)
    existing = ReviewCampaign.objects.filter(period=period).first()
    if existing is not None:
        return existing, False
    due = today + timedelta(days=int(getattr(settings, "ACCESS_REVIEW_DUE_DAYS", 30)))
    start = timezone.make_aware(datetime.combine(today, time(0, 0))) if timezone.now().date() != today else None
    try:
        campaign = campaign_open(name=f"Quarterly access review {period.replace('-', ' ')}", due_date=due,
                                 actor=actor, period=period, now=start)
    except Conflict:
        return ReviewCampaign.objects.get(period=period), False
    return campaign, True


def _notify_opened(campaign_id: int) -> None:
    campaign = ReviewCampaign.objects.get(pk=campaign_id)
    counts = (ReviewItem.objects.filter(campaign=campaign).values("reviewer__email", "reviewer__first_name")
              .annotate(n=Count("id")))
    for row in counts:
        if row["reviewer__email"]:
            send_mail(f"Access review: {row['n']} grants to review by {campaign.due_date:%d %b %Y}",
                      f"Hello {row['reviewer__first_name'] or ''},\n\n{campaign.name} is open. You have {row['n']} "
                      f"grants to review by {campaign.due_date:%Y-%m-%d}:\n{settings.SITE_URL}/access/reviews/\n",
                      None, [row["reviewer__email"]], fail_silently=True)


# --- deciding --------------------------------------------------------------------------------

def _may_decide(user: User, item: ReviewItem) -> None:
    if user.pk == item.grant.user_id:
        raise NotAllowed("Nobody reviews their own grant.", code="self_review_forbidden")
    if user.pk != item.reviewer_id and not user.has_role(ACCESS_ADMIN):
        raise NotAllowed("This item is assigned to another reviewer.", code="not_the_reviewer")


def _check_decision(item: ReviewItem, decision: str, justification: str, keep_until: date | None, *,
                    now: datetime, token_last_used: datetime | None) -> None:
    if decision not in Decision.values:
        raise InvalidInput(f"Decision must be one of: {', '.join(Decision.values)}.",
                           fields={"decision": [f"One of: {', '.join(Decision.values)}."]})
    if decision == Decision.KEEP_UNTIL:
        if keep_until is None:
            raise InvalidInput("Keep until which date?", fields={"keep_until": ["This field is required."]})
        if keep_until <= now.date():
            raise InvalidInput("The date must be in the future.", fields={"keep_until": ["Must be after today."]})
    limit = inactive_days_limit()
    inactive = item.grant.days_inactive(now, token_last_used)
    if decision != Decision.REVOKE and inactive > limit and not (justification or "").strip():
        raise Unprocessable(
            f"This grant has not been used for {inactive} days (more than {limit}): keeping it needs a justification.",
            code="justification_required", fields={"justification": [f"Required: unused for {inactive} days."]})


def item_decide(*, item: ReviewItem, decision: str, actor: Any, justification: str = "",
                keep_until: date | None = None, now: datetime | None = None) -> ReviewItem:
    """Record one decision. The item row is locked: of two reviewers deciding at once, the
    second sees the first decision and gets 409 `already_decided`."""
    resolved = resolve_actor(actor)
    user = resolved.user
    now = now or timezone.now()
    with transaction.atomic():
        locked = (ReviewItem.objects.select_for_update(of=("self",))
                  .select_related("grant", "grant__user", "grant__service", "campaign", "decided_by")
                  .get(pk=item.pk))
        if locked.campaign.status != ReviewCampaign.Status.OPEN:
            raise Conflict("This campaign is closed.", code="campaign_closed")
        if locked.decision:
            who = locked.decided_by.username if locked.decided_by else "someone"
            raise Conflict(f"Already decided ({locked.get_decision_display().lower()}) by {who} at "
                           f"{locked.decided_at:%Y-%m-%d %H:%M} UTC.", code="already_decided")
        _may_decide(user, locked)
        token_last = _token_last_used([locked.grant.user_id]).get(locked.grant.user_id)
        _check_decision(locked, decision, justification, keep_until, now=now, token_last_used=token_last)
        locked.decision = decision
        locked.keep_until = keep_until if decision == Decision.KEEP_UNTIL else None
        locked.justification = (justification or "").strip()
        locked.decided_by = user
        locked.decided_at = now
        locked._history_user = user
        locked._change_reason = f"decided: {decision}"
        locked.save()
        audit_event_record(action="access_review.item_decided", target=locked, actor=resolved, details={
            "campaign": locked.campaign_id, "grant": locked.grant_id, "holder": locked.grant.user.username,
            "privilege": locked.grant.privilege, "service": locked.grant.service.slug, "decision": decision,
            "keep_until": keep_until.isoformat() if locked.keep_until else None,
            "justification": locked.justification,
        })
    item.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


@dataclass
class BulkResult:
    decided: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def items_decide_bulk(*, item_ids: list[int], decision: str, actor: Any, justification: str = "",
                      keep_until: date | None = None) -> BulkResult:
    """Apply one decision to a filtered set. Each item is decided on its own (own lock, own
    audit event); items that cannot take it (already decided, own grant, justification
    missing) are skipped with the reason, the others go through."""
    from releaseportal.errors import PortalError

    result = BulkResult()
    for item in ReviewItem.objects.filter(pk__in=item_ids).order_by("pk"):
        try:
            item_decide(item=item, decision=decision, actor=actor, justification=justification, keep_until=keep_until)
            result.decided.append(item.pk)
        except PortalError as exc:
            result.skipped[item.pk] = exc.message
    return result


def item_reassign(*, item: ReviewItem, reviewer: User, actor: Any) -> ReviewItem:
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update(of=("self",)).select_related("grant", "campaign").get(pk=item.pk)
        if locked.decision or locked.campaign.status != ReviewCampaign.Status.OPEN:
            raise Conflict("Only open, undecided items can be reassigned.", code="item_not_open")
        if reviewer.pk == locked.grant.user_id:
            raise NotAllowed("Nobody reviews their own grant.", code="self_review_forbidden")
        previous = locked.reviewer
        locked.reviewer = reviewer
        locked.assignment_note = f"Reassigned from {previous.username} by {resolved.label}"[:200]
        locked._history_user = resolved.user
        locked.save()
        locked.campaign.reviewers.add(reviewer)
        audit_event_record(action="access_review.item_reassigned", target=locked, actor=resolved,
                           details={"from": previous.username, "to": reviewer.username})
    return locked


# --- closing ---------------------------------------------------------------------------------

@dataclass
class CloseResult:
    revoked: int = 0
    revoked_by_policy: int = 0
    kept: int = 0
    kept_until: int = 0
    undecided: int = 0
    tokens_disabled: int = 0


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def campaign_close(*, campaign: ReviewCampaign, actor: Any, now: datetime | None = None,
                   generate_reports: bool = True) -> CloseResult:
    """Close and apply every outcome at once: revocations (reviewer decisions, and undecided
    inactive grants when the campaign's policy says so), keep-until expiries, tokens of
    service accounts that lost a grant. One transaction: all of it or none of it."""
    from apps.accounts.services import api_tokens_revoke_for_user

    resolved = resolve_actor(actor)
    now = now or timezone.now()
    limit = inactive_days_limit()
    result = CloseResult()
    history_user, attrs = history_attrs(resolved)
    with transaction.atomic():
        locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != ReviewCampaign.Status.OPEN:
            raise Conflict("This campaign is closed already.", code="campaign_closed")
        items = list(ReviewItem.objects.filter(campaign=locked).select_related("reviewer", "decided_by").order_by("pk"))
        grants = {g.pk: g for g in AccessGrant.objects.select_for_update(of=("self",))
                  .select_related("user", "service", "environment")
                  .filter(pk__in=[i.grant_id for i in items])}
        token_last = _token_last_used({g.user_id for g in grants.values()})
        to_revoke: dict[int, str] = {}
        revoke_details: dict[int, dict] = {}
        keep_until: dict[int, datetime] = {}
        for item in items:
            grant = grants[item.grant_id]
            item.applied_at = now
            if grant.status != "active":
                item.outcome = ReviewItem.Outcome.ALREADY_ENDED
            elif item.decision == Decision.REVOKE:
                item.outcome = ReviewItem.Outcome.REVOKED
                to_revoke[grant.pk] = f"Access review '{locked.name}': revoked by {item.decided_by.username}"
                revoke_details[grant.pk] = {"campaign": locked.pk, "item": item.pk, "by_policy": False}
                result.revoked += 1
            elif item.decision == Decision.KEEP:
                item.outcome = ReviewItem.Outcome.KEPT
                result.kept += 1
            elif item.decision == Decision.KEEP_UNTIL:
                item.outcome = ReviewItem.Outcome.KEPT_UNTIL
                keep_until[grant.pk] = _end_of_day(item.keep_until)
                result.kept_until += 1
            elif locked.revoke_undecided_inactive and grant.days_inactive(now, token_last.get(grant.user_id)) > limit:
                item.outcome = ReviewItem.Outcome.REVOKED_BY_POLICY
                to_revoke[grant.pk] = (f"Access review '{locked.name}': undecided and unused for more than "
                                       f"{limit} days (policy)")
                revoke_details[grant.pk] = {"campaign": locked.pk, "item": item.pk, "by_policy": True}
                result.revoked_by_policy += 1
            else:
                item.outcome = ReviewItem.Outcome.UNDECIDED
                result.undecided += 1
        revoked = grants_revoke_many(grants=[grants[pk] for pk in to_revoke], reasons=to_revoke, actor=resolved,
                                     now=now, extra_details=revoke_details)
        if keep_until:
            grant_set_expiry(grants=[grants[pk] for pk in keep_until], expires_at=keep_until, actor=resolved,
                             reason=f"kept until a date in '{locked.name}'")
        bulk_update_with_history(items, ReviewItem, ["outcome", "applied_at"], batch_size=2000,
                                 default_user=history_user, default_change_reason="campaign closed",
                                 default_date=now, custom_historical_attrs=attrs)
        for account in {g.user for g in revoked if g.user.is_service_account}:
            result.tokens_disabled += api_tokens_revoke_for_user(
                user=account, actor=resolved, reason=f"Access review '{locked.name}' revoked a privilege")
        locked.status = ReviewCampaign.Status.CLOSED
        locked.closed_at = now
        locked.closed_by = resolved.user
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action="access_review.campaign_closed", target=locked, actor=resolved,
                           details={**result.__dict__, "items": len(items)})
        campaign_id = locked.pk
        if generate_reports:
            transaction.on_commit(lambda: _generate_reports(campaign_id))
    campaign.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return result


def _generate_reports(campaign_id: int) -> None:
    from ..tasks import generate_campaign_report

    generate_campaign_report.delay(campaign_id)


# --- reminders and escalation ----------------------------------------------------------------

def _open_counts(campaign: ReviewCampaign):
    return (ReviewItem.objects.filter(campaign=campaign, decision="")
            .values("reviewer_id", "reviewer__username", "reviewer__email", "reviewer__first_name")
            .annotate(n=Count("id")).order_by("reviewer__username"))


def campaign_reminders_send(*, actor: Any, today: date | None = None) -> int:
    """Once a day in the reminder window before the due date, every reviewer with open items
    gets a reminder. Idempotent per day."""
    today = today or timezone.localdate()
    window = int(getattr(settings, "ACCESS_REVIEW_REMIND_DAYS", 7))
    sent = 0
    for campaign in ReviewCampaign.objects.filter(status=ReviewCampaign.Status.OPEN, due_date__gte=today,
                                                  due_date__lte=today + timedelta(days=window)).filter(
            Q(last_reminder_on__isnull=True) | Q(last_reminder_on__lt=today)):
        with transaction.atomic():
            locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
            if locked.last_reminder_on == today:
                continue
            rows = list(_open_counts(locked))
            locked.last_reminder_on = today
            locked.save(update_fields=["last_reminder_on"])
            audit_event_record(action="access_review.reminders_sent", target=locked, actor=actor,
                               details={"reviewers": [r["reviewer__username"] for r in rows], "date": today.isoformat()})
            messages = [(f"Reminder: {r['n']} access review items due {locked.due_date:%d %b %Y}",
                         f"Hello {r['reviewer__first_name'] or r['reviewer__username']},\n\n{r['n']} items of "
                         f"{locked.name} are still open; they are due on {locked.due_date:%Y-%m-%d}.\n"
                         f"{settings.SITE_URL}/access/reviews/\n", r["reviewer__email"]) for r in rows if r["reviewer__email"]]
            transaction.on_commit(lambda m=messages: _send_all(m))
            sent += len(messages)
    return sent


def campaign_escalate_overdue(*, actor: Any, today: date | None = None) -> int:
    """After the due date, access admins hear once which reviewers still have open items."""
    today = today or timezone.localdate()
    escalated = 0
    for campaign in ReviewCampaign.objects.filter(status=ReviewCampaign.Status.OPEN, due_date__lt=today,
                                                  escalated_at__isnull=True):
        with transaction.atomic():
            locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
            if locked.escalated_at is not None:
                continue
            rows = list(_open_counts(locked))
            locked.escalated_at = timezone.now()
            locked.save(update_fields=["escalated_at"])
            audit_event_record(action="access_review.escalated", target=locked, actor=actor,
                               details={"open_items": {r["reviewer__username"]: r["n"] for r in rows}})
            if rows:
                lines = "\n".join(f"- {r['reviewer__username']}: {r['n']} open" for r in rows)
                body = (f"{locked.name} was due on {locked.due_date:%Y-%m-%d} and is not complete:\n{lines}\n\n"
                        f"{settings.SITE_URL}/access/campaigns/{locked.pk}/\n")
                messages = [(f"Overdue access review: {locked.name}", body, admin.email)
                            for admin in access_admins() if admin.email]
                transaction.on_commit(lambda m=messages: _send_all(m))
                escalated += 1
    return escalated


def _send_all(messages: list[tuple[str, str, str]]) -> None:
    for subject, body, to in messages:
        send_mail(subject, body, None, [to], fail_silently=True)
