"""Review campaigns after opening (see opening.py): decide, bulk decide, reassign, close (apply
revocations), reminders and escalation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import ACCESS_ADMIN
from apps.audit.actor import resolve_actor
from apps.audit.history import history_copy_rows
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, PortalError, Unprocessable

from ..models import AccessGrant, Decision, ReviewCampaign, ReviewItem
from ..permissions import review_conflict
from ..selectors import inactive_days_limit, token_activity
from .bulk import update_in_groups
from .grants import grant_set_expiry, grants_revoke_many
from .opening import access_admins

# --- deciding --------------------------------------------------------------------------------

def _refuse_a_party(user: User, grant: AccessGrant) -> None:
    """Nobody certifies a grant they issued or hold (permissions.review_conflict, the shared rule)."""
    conflict = review_conflict(user, grant)
    if conflict is not None:
        code = "self_review_forbidden" if conflict.party else conflict.code
        raise NotAllowed(conflict.message + (" Another reviewer decides." if conflict.party else ""), code=code,
                         fields={"reviewer": [conflict.message]} if conflict.party else {})


def _may_decide(user: User, item: ReviewItem) -> None:
    _refuse_a_party(user, item.grant)
    if user.pk != item.reviewer_id and not user.has_role(ACCESS_ADMIN):
        raise NotAllowed("This item is assigned to another reviewer.", code="not_the_reviewer")


def _check_input(decision: str, keep_until: date | None, *, now: datetime) -> None:
    """What is wrong with the decision whatever the item."""
    if decision not in Decision.values:
        raise InvalidInput(f"Decision must be one of: {', '.join(Decision.values)}.",
                           fields={"decision": [f"One of: {', '.join(Decision.values)}."]})
    if decision == Decision.KEEP_UNTIL:
        if keep_until is None:
            raise InvalidInput("Keep until which date?", fields={"keep_until": ["This field is required."]})
        if keep_until <= now.date():
            raise InvalidInput("The date must be in the future.", fields={"keep_until": ["Must be after today."]})


def _check_item(item: ReviewItem, user: User, decision: str, justification: str, *, now: datetime,
                token_last_used: datetime | None) -> None:
    """What stops this item taking the decision; the item is locked."""
    if item.campaign.status != ReviewCampaign.Status.OPEN:
        raise Conflict("This campaign is closed.", code="campaign_closed")
    if item.decision:
        who = item.decided_by.username if item.decided_by else "someone"
        raise Conflict(f"Already decided ({item.get_decision_display().lower()}) by {who} at "
                       f"{item.decided_at:%Y-%m-%d %H:%M} UTC.", code="already_decided")
    _may_decide(user, item)
    limit = inactive_days_limit()
    inactive = item.grant.days_inactive(now, token_last_used)
    if decision != Decision.REVOKE and inactive > limit and not (justification or "").strip():
        raise Unprocessable(
            f"This grant has not been used for {inactive} days (more than {limit}): keeping it needs a justification.",
            code="justification_required", fields={"justification": [f"Required: unused for {inactive} days."]})


def _locked_items(ids) -> list[ReviewItem]:
    return list(ReviewItem.objects.select_for_update(of=("self",))
                .select_related("grant", "grant__user", "grant__service", "campaign", "decided_by")
                .filter(pk__in=ids).order_by("pk"))


def _service_account_tokens(items: list[ReviewItem]) -> dict[int, datetime]:
    """Token use of the service accounts holding these grants: no query when there are none."""
    accounts = {i.grant.user_id for i in items if i.grant.user.kind == User.Kind.SERVICE_ACCOUNT}
    return token_activity(accounts)


def _record(item: ReviewItem, *, user: User, decision: str, justification: str, keep_until: date | None,
            now: datetime) -> None:
    item.decision = decision
    item.keep_until = keep_until if decision == Decision.KEEP_UNTIL else None
    item.justification = (justification or "").strip()
    item.decided_by = user
    item.decided_at = now


def _decided_event(item: ReviewItem) -> PendingEvent:
    return PendingEvent(action="access_review.item_decided", target=item, details={
        "campaign": item.campaign_id, "grant": item.grant_id, "holder": item.grant.user.username,
        "privilege": item.grant.privilege, "service": item.grant.service.slug, "decision": item.decision,
        "keep_until": item.keep_until.isoformat() if item.keep_until else None, "justification": item.justification,
    })


def item_decide(*, item: ReviewItem, decision: str, actor: Any, justification: str = "",
                keep_until: date | None = None, now: datetime | None = None) -> ReviewItem:
    """Record one decision. The item row is locked: of two reviewers deciding at once, the
    second sees the first decision and gets 409 `already_decided`."""
    resolved = resolve_actor(actor)
    user = resolved.user
    now = now or timezone.now()
    _check_input(decision, keep_until, now=now)
    with transaction.atomic():
        locked = _locked_items([item.pk])[0]
        tokens = _service_account_tokens([locked])
        _check_item(locked, user, decision, justification, now=now, token_last_used=tokens.get(locked.grant.user_id))
        _record(locked, user=user, decision=decision, justification=justification, keep_until=keep_until, now=now)
        locked._history_user = user
        locked._change_reason = f"decided: {decision}"
        locked.save()
        audit_events_record_many(events=[_decided_event(locked)], actor=resolved)
    return locked


@dataclass
class BulkResult:
    decided: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def items_decide_bulk(*, item_ids: list[int], decision: str, actor: Any, justification: str = "",
                      keep_until: date | None = None, now: datetime | None = None) -> BulkResult:
    """Apply one decision to a filtered set, in one transaction with a fixed number of statements
    per thousand items. Each item decided is a state change of its own: its history row and its
    audit event, written in bulk. Items that cannot take the decision (already decided, own grant,
    justification missing) are skipped with the reason; bad input refuses the whole request."""
    resolved = resolve_actor(actor)
    user = resolved.user
    now = now or timezone.now()
    _check_input(decision, keep_until, now=now)
    result = BulkResult()
    ids = sorted(set(item_ids))
    with transaction.atomic():
        decided: list[ReviewItem] = []
        for start in range(0, len(ids), 1000):
            items = _locked_items(ids[start:start + 1000])
            tokens = _service_account_tokens(items)
            for item in items:
                try:
                    _check_item(item, user, decision, justification, now=now,
                                token_last_used=tokens.get(item.grant.user_id))
                except PortalError as exc:
                    result.skipped[item.pk] = exc.message
                    continue
                _record(item, user=user, decision=decision, justification=justification, keep_until=keep_until,
                        now=now)
                decided.append(item)
        # One decision for all: one UPDATE per thousand items, their history rows copied from them.
        decided_ids = [i.pk for i in decided]
        for start in range(0, len(decided_ids), 1000):
            chunk = ReviewItem.objects.filter(pk__in=decided_ids[start:start + 1000])
            chunk.update(decision=decision, keep_until=keep_until if decision == Decision.KEEP_UNTIL else None,
                         justification=(justification or "").strip(), decided_by=user, decided_at=now)
            history_copy_rows(chunk, actor=resolved, when=now, reason=f"decided: {decision}", history_type="~")
        if decided:
            audit_events_record_many(events=[_decided_event(i) for i in decided], actor=resolved)
    result.decided = [i.pk for i in decided]
    return result


def item_reassign(*, item: ReviewItem, reviewer: User, actor: Any) -> ReviewItem:
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update(of=("self",)).select_related("grant", "campaign").get(pk=item.pk)
        if locked.decision or locked.campaign.status != ReviewCampaign.Status.OPEN:
            raise Conflict("Only open, undecided items can be reassigned.", code="item_not_open")
        _refuse_a_party(reviewer, locked.grant)
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
    """The counts of a close, and the closed campaign (the locked instance, as saved)."""

    revoked: int = 0
    revoked_by_policy: int = 0
    kept: int = 0
    kept_until: int = 0
    undecided: int = 0
    tokens_disabled: int = 0
    campaign: ReviewCampaign | None = field(default=None, repr=False, compare=False)

    def counts(self) -> dict[str, int]:
        return {name: value for name, value in self.__dict__.items() if name != "campaign"}


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
    with transaction.atomic():
        locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in (ReviewCampaign.Status.OPEN, ReviewCampaign.Status.CLOSING):
            raise Conflict("This campaign is closed already.", code="campaign_closed")
        # What deciding the outcome reads; the outcome itself is written by UPDATE, not save().
        items = list(ReviewItem.objects.filter(campaign=locked).select_related("decided_by")
                     .only("grant_id", "decision", "keep_until", "decided_by__username").order_by("pk"))
        grants = {g.pk: g for g in AccessGrant.objects.select_for_update(of=("self",))
                  .select_related("user", "service", "environment")
                  .filter(pk__in=[i.grant_id for i in items])}
        token_last = token_activity({g.user_id for g in grants.values()
                                     if g.user.kind == User.Kind.SERVICE_ACCOUNT})
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
        # A handful of outcomes: an UPDATE per outcome and thousand items, then every item's history
        # row copied from it in one statement.
        update_in_groups(ReviewItem, {i.pk: {"outcome": i.outcome, "applied_at": now} for i in items})
        history_copy_rows(ReviewItem.objects.filter(campaign=locked), actor=resolved, when=now,
                          reason="campaign closed", history_type="~")
        for account in {g.user for g in revoked if g.user.is_service_account}:
            result.tokens_disabled += api_tokens_revoke_for_user(
                user=account, actor=resolved, reason=f"Access review '{locked.name}' revoked a privilege")
        locked.status = ReviewCampaign.Status.CLOSED
        locked.closed_at = now
        locked.closed_by = resolved.user
        locked.close_error = ""
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action="access_review.campaign_closed", target=locked, actor=resolved,
                           details={**result.counts(), "items": len(items)})
        campaign_id = locked.pk
        if generate_reports:
            transaction.on_commit(lambda: _generate_reports(campaign_id))
    result.campaign = locked
    return result


def campaign_close_request(*, campaign: ReviewCampaign, actor: Any) -> CloseResult | None:
    """Close a campaign now when it is small enough to apply within the request; otherwise mark
    it closing (decisions stop at once) and hand the close to a worker, acting for the same person.
    Returns the outcome when it was closed here, None when a worker closes it."""
    resolved = resolve_actor(actor)
    items = ReviewItem.objects.filter(campaign=campaign).count()
    if items <= int(getattr(settings, "ACCESS_REVIEW_CLOSE_IN_REQUEST_MAX_ITEMS", 2000)):
        return campaign_close(campaign=campaign, actor=resolved)
    with transaction.atomic():
        locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != ReviewCampaign.Status.OPEN:
            raise Conflict("This campaign is closing or closed already.", code="campaign_closed")
        locked.status = ReviewCampaign.Status.CLOSING
        # The reaper (apps/access_reviews/reaper.py) retries or fails a close whose worker died.
        locked.close_requested_by = resolved.user
        locked.close_requested_at = timezone.now()
        locked.close_attempts = 1
        locked.close_error = ""
        locked._history_user = resolved.user
        locked.save(update_fields=["status", "close_requested_by", "close_requested_at", "close_attempts",
                                   "close_error"])
        audit_event_record(action="access_review.campaign_close_requested", target=locked, actor=resolved,
                           details={"items": items})
        campaign_id, user_id = locked.pk, resolved.user.pk if resolved.user is not None else None
        transaction.on_commit(lambda: _close_in_background(campaign_id, user_id))
    campaign.status = ReviewCampaign.Status.CLOSING
    return None


def _close_in_background(campaign_id: int, user_id: int | None) -> None:
    from ..tasks import close_campaign

    close_campaign.delay(campaign_id, user_id)


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
