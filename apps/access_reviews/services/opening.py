"""Opening a review campaign: every production grant in scope becomes an item for an accountable
reviewer.

Opening is one state change, so it writes one audit event (for the campaign: item count,
reviewers, and a SHA-256 of the item set) and a history row per item (its creation, with the
actor), all in one transaction. The writes are set-based: the grants are read as plain rows,
the items inserted by COPY (PostgreSQL) or in large batches, and their history rows copied from them by one
INSERT … SELECT (apps.audit.history.history_copy_rows), so the statement count does not grow with the number of grants.
`selectors.campaign_items_digest` recomputes the digest from those history rows: the audit
chain vouches for exactly the items the history shows were created."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from apps.accounts.models import Team, TeamMembership, User
from apps.accounts.roles import ACCESS_ADMIN
from apps.audit.actor import resolve_actor
from apps.audit.history import history_copy_rows
from apps.audit.services import audit_event_record
from apps.catalog.models import COMPLIANCE_SCOPE_KEYS
from releaseportal.errors import Conflict, InvalidInput, Unprocessable

from ..models import AccessGrant, ReviewCampaign, ReviewItem
from ..selectors import ITEMS_DIGEST_FORMAT, campaign_items_digest

# Rows per INSERT where COPY is not available: few round trips, bounded statement size (Django
# caps it lower where the backend needs, e.g. SQLite's variable limit).
ITEM_BATCH = 5000
# Every column a new item sets; the others are empty until it is decided or applied.
_NEW_ITEM_COLUMNS = ("campaign_id", "grant_id", "reviewer_id", "reassigned_from_id", "assignment_note", "context",
                     "decision", "justification", "outcome")


def quarter_period(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def access_admins() -> list[User]:
    return list(User.objects.filter(is_active=True, kind=User.Kind.HUMAN, groups__name=ACCESS_ADMIN)
                .order_by("username").distinct())


class GrantRow(NamedTuple):
    """What opening needs of a grant, read as a plain row (no model instances)."""

    pk: int
    user_id: int
    username: str
    user_kind: str
    user_owner_team_id: int | None
    privilege: str
    service_id: int
    service_slug: str
    owner_team_id: int
    lead_id: int | None
    lead_is_active: bool | None
    granted_at: datetime
    flag_reason: str
    granted_by_id: int | None

    def label(self) -> str:
        return f"{self.username} · {self.privilege} · {self.service_slug}"


_GRANT_COLUMNS = ("pk", "user_id", "user__username", "user__kind", "user__owner_team_id", "privilege", "service_id",
                  "service__slug", "service__owner_team_id", "service__owner_team__lead_id",
                  "service__owner_team__lead__is_active", "granted_at", "flag_reason", "granted_by_id")


def grants_in_scope(scope: str, team: Team | None, compliance: str) -> list[GrantRow]:
    # (service, holder, privilege) order: item ids then keep a reviewer's page grouped by service.
    qs = AccessGrant.objects.active().production().order_by("service_id", "user_id", "privilege")
    if scope == ReviewCampaign.Scope.TEAM:
        qs = qs.filter(service__owner_team=team)
    elif scope == ReviewCampaign.Scope.COMPLIANCE:
        qs = qs.filter(service__compliance_scopes__icontains=f'"{compliance}"')
    return [GrantRow(*row) for row in qs.values_list(*_GRANT_COLUMNS)]


def _contexts(grants: list[GrantRow]) -> list[dict]:
    """Facts per grant a reviewer needs: the holder's roles and teams, and team changes since the
    grant was made (joins and departures from the membership history). Per-holder facts are
    read once (three queries in all), whatever the number of grants."""
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
    for user_id, team_id, kind, recorded, joined_at in history.values_list("user_id", "team_id", "history_type",
                                                                            "history_date", "joined_at"):
        # A join happened on the membership's own date (an imported or backdated membership is
        # recorded later than it began); a departure when it was recorded.
        when = joined_at if kind == "+" and joined_at else recorded
        verb = "joined" if kind == "+" else "left"
        changes[user_id].append((when, team_id, f"{verb} {team_names.get(team_id, team_id)}", kind))
    for user_changes in changes.values():
        user_changes.sort()
    sorted_roles = {user_id: sorted(names) for user_id, names in roles.items()}
    sorted_teams = {user_id: sorted(by_id.values()) for user_id, by_id in teams.items()}
    out = []
    for g in grants:
        member_of = teams.get(g.user_id, {})
        # Joining the owning team after the grant is expected; departures and moves elsewhere are news.
        since = [f"{text} on {when:%Y-%m-%d}" for when, team_id, text, kind in changes.get(g.user_id, ())
                 if when >= g.granted_at and not (kind == "+" and team_id == g.owner_team_id)]
        out.append({
            "kind": g.user_kind,
            "roles": sorted_roles.get(g.user_id, []),
            "teams": sorted_teams.get(g.user_id, []),
            "in_owner_team": g.owner_team_id in member_of
            or (g.user_kind == User.Kind.SERVICE_ACCOUNT and g.user_owner_team_id == g.owner_team_id),
            "team_changes": since[-5:],
            "flag": g.flag_reason,
        })
    return out


class Assignment(NamedTuple):
    reviewer_id: int
    reassigned_from_id: int | None
    note: str


def _assign(grants: list[GrantRow], admins: list[User]) -> list[Assignment]:
    """The owning team's lead, else the access admin with the fewest items so far; never the
    holder of the grant, nor (segregation of duties) whoever issued it. When only the issuer is
    left, the item goes to her marked as needing another reviewer: the decision service refuses
    her, and the reviewer page says so, until an access admin reassigns it."""
    load: Counter[int] = Counter()
    result = []

    def least_loaded(*exclude_ids: int | None) -> int | None:
        candidates = [a for a in admins if a.pk not in exclude_ids]
        if not candidates:
            return None
        return min(candidates, key=lambda a: (load[a.pk], a.username)).pk

    for g in grants:
        parties = (g.user_id, g.granted_by_id)
        if g.lead_id is not None and g.lead_is_active and g.lead_id not in parties:
            reviewer, original, note = g.lead_id, None, ""
        elif g.lead_id is not None and g.lead_id == g.user_id:
            reviewer, original, note = least_loaded(*parties), g.lead_id, "Reassigned: the team lead holds this grant"
        elif g.lead_id is not None and g.lead_is_active and g.lead_id == g.granted_by_id:
            reviewer, original, note = least_loaded(*parties), g.lead_id, "Reassigned: the team lead issued this grant"
        else:
            reviewer, original, note = least_loaded(*parties), None, "No active team lead: access admin reviews"
        if reviewer is None and g.granted_by_id is not None:
            reviewer = least_loaded(g.user_id)
            note = "Needs another reviewer: the only access admin left issued this grant"
        if reviewer is None:
            raise Unprocessable(f"Nobody but the holder could review {g.label()}: add an access admin first.",
                                code="no_reviewer_available")
        load[reviewer] += 1
        result.append(Assignment(reviewer, original, note))
    return result


def _items_insert(campaign_id: int, grants: list[GrantRow], assignments: list[Assignment],
                  contexts: list[dict]) -> None:
    """The new items, in grant order (their ids follow it). PostgreSQL takes them by COPY: 50,000
    rows in about 0.5 s, against 2.5-4 s through bulk_create, most of it building model instances
    and quoting arrays. Other databases take bulk_create in large batches."""
    rows = zip(grants, assignments, contexts, strict=True)
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        columns = ", ".join(qn(c) for c in _NEW_ITEM_COLUMNS)
        # Names come from this module, never from input.
        statement = f"COPY {qn(ReviewItem._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for g, a, context in rows:
                # json.dumps, as the JSONField itself encodes (no custom encoder).
                copy.write_row((campaign_id, g.pk, a.reviewer_id, a.reassigned_from_id, a.note,
                                json.dumps(context), "", "", ""))
        return
    ReviewItem.objects.bulk_create([
        ReviewItem(campaign_id=campaign_id, grant_id=g.pk, reviewer_id=a.reviewer_id,
                   reassigned_from_id=a.reassigned_from_id, assignment_note=a.note, context=context)
        for g, a, context in rows
    ], batch_size=ITEM_BATCH)


def _validate(*, name: str, due_date: date | None, scope: str, scope_team: Team | None, scope_compliance: str,
              now: datetime) -> None:
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


def campaign_open(*, name: str, due_date: date, actor: Any, scope: str = ReviewCampaign.Scope.ALL_PRODUCTION,
                  scope_team: Team | None = None, scope_compliance: str = "", period: str = "",
                  revoke_undecided_inactive: bool = True, now: datetime | None = None) -> ReviewCampaign:
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    _validate(name=name, due_date=due_date, scope=scope, scope_team=scope_team, scope_compliance=scope_compliance,
              now=now)
    with transaction.atomic():
        # Read inside the transaction: the items are exactly the grants seen at opening.
        grants = grants_in_scope(scope, scope_team, scope_compliance)
        assignments = _assign(grants, access_admins())
        contexts = _contexts(grants)
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
        _items_insert(campaign.pk, grants, assignments, contexts)
        history_copy_rows(ReviewItem.objects.filter(campaign_id=campaign.pk), actor=resolved, when=now,
                          reason="assigned", history_type="+")
        reviewer_ids = {a.reviewer_id for a in assignments}
        campaign.reviewers.set(reviewer_ids)
        count, digest = campaign_items_digest(campaign.pk)
        audit_event_record(action="access_review.campaign_opened", target=campaign, actor=resolved, details={
            "scope": campaign.scope_label(), "due_date": due_date.isoformat(), "period": period,
            "items": count, "reviewers": len(reviewer_ids),
            "reassigned_from_holder": sum(1 for a in assignments if a.reassigned_from_id is not None),
            "to_access_admins": sum(1 for a in assignments if a.note),
            "items_sha256": digest, "items_digest_format": ITEMS_DIGEST_FORMAT,
        })
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
