"""Demo grants and campaigns: production approver rights for the approvers and team leads,
deployer rights for ci-bot and the engineers (some unused for months), a closed campaign from
last quarter with revocations, and this quarter's campaign under way."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from apps.audit.actor import Actor
from apps.audit.services import PendingEvent, audit_events_record_many

from .derivation import permissions_sync_many
from .evidence import campaign_reports_store
from .models import AccessGrant, ReviewCampaign
from .services import campaign_close, campaign_open, history_attrs, item_decide, quarter_period

# Approvers on every service (the demo's approval flows need them in production).
GLOBAL_APPROVERS = ["bob", "carol", "dave", "heidi"]
TEAM_LEADS = {"payments": "payments-lead", "identity": "identity-lead", "storefront": "storefront-lead",
              "data-platform": "data-lead", "mobile": "mobile-lead", "infrastructure": "infra-lead"}
ENGINEERS = {"payments": ["alice", "paul"], "identity": ["victor"], "storefront": ["sam"], "data-platform": ["wendy"],
             "mobile": ["tara"], "infrastructure": ["yusuf"]}
# Grants last quarter's campaign took away: (user, privilege, service, how).
FORMER = [("paul", "approver", "ledger", "revoke"), ("sam", "service_admin", "checkout", "revoke"),
          ("victor", "deployer", "payments-api", "revoke"), ("yusuf", "deployer", "checkout", "policy")]
# ci-bot deploys most services daily; these have not seen a pipeline for months.
IDLE_PIPELINES = {"recommendations", "push-notifications", "reporting-api", "consent", "ci-runners"}


def _quarter_start(day) -> datetime:
    month = 3 * ((day.month - 1) // 3) + 1
    return timezone.make_aware(datetime.combine(day.replace(month=month, day=1), time(6, 0)))


def seed(ctx) -> None:
    if AccessGrant.objects.exists():
        ctx.say("access grants exist already: skipped")
        return
    actor = Actor.for_command("seed_demo", user=ctx.users["grace"])
    prod = ctx.environments["prod"]
    now = ctx.now
    this_quarter = _quarter_start(now.date())
    last_quarter = _quarter_start((this_quarter - timedelta(days=2)).date())
    granted_at = last_quarter - timedelta(days=120)
    rng = ctx.rng

    grants: list[AccessGrant] = []

    # Grace issues grants; the team leads' own were issued by the platform admin, so that grace (who
    # reviews what a lead holds) never certifies a grant she issued.
    leads = set(TEAM_LEADS.values())

    def add(username: str, privilege: str, slug: str, why: str, last_used_days: int | None) -> None:
        grants.append(AccessGrant(
            user=ctx.users[username], privilege=privilege, service=ctx.services[slug], environment=prod,
            granted_by=ctx.users["admin" if username in leads else "grace"], granted_at=granted_at + timedelta(hours=rng.randint(0, 400)),
            justification=why,
            last_used_at=None if last_used_days is None else now - timedelta(days=last_used_days, hours=rng.randint(0, 20)),
        ))

    for slug, service in ctx.services.items():
        team = service.owner_team.slug
        for username in GLOBAL_APPROVERS:
            # Approvers approve some services weekly, others never (a finding for the review).
            add(username, "approver", slug, "CAB / specialist approver for production changes",
                rng.choice([2, 5, 9, 20, 45, None, 130]))
        lead = TEAM_LEADS[team]
        add(lead, "approver", slug, f"Lead of the owning team ({team})", rng.choice([1, 3, 8, 30]))
        add(lead, "service_admin", slug, f"Lead of the owning team ({team})", rng.choice([10, 60, None]))
        add("ci-bot", "deployer", slug, "Production deployments from the CI/CD pipeline",
            rng.choice([150, 200, None]) if slug in IDLE_PIPELINES else rng.choice([0, 1, 2]))
        for engineer in ENGINEERS[team]:
            add(engineer, "deployer", slug, "Manual production deploys during on-call",
                rng.choice([4, 12, 40, 100, None]))
    for username, privilege, slug, _ in FORMER:
        add(username, privilege, slug, "Temporary: migration project", None)

    history_user, attrs = history_attrs(actor)
    for grant in grants:
        grant._history_date = grant.granted_at  # the grant's history starts when it was granted, not at seeding
    grants = bulk_create_with_history(grants, AccessGrant, batch_size=1000, default_user=history_user,
                                      default_change_reason="demo grant", custom_historical_attrs=attrs)
    permissions_sync_many(pairs=[(g.user_id, g.service_id) for g in grants])
    audit_events_record_many(events=[
        PendingEvent(action="access_grant.created", target=g,
                     details={"user": g.user.username, "privilege": g.privilege, "service": g.service.slug,
                              "environment": prod.slug, "justification": g.justification})
        for g in grants], actor=actor)

    # Last quarter: every item decided, revocations applied at close.
    period = quarter_period(last_quarter.date())
    closed = campaign_open(name=f"Quarterly access review {period.replace('-', ' ')}", period=period,
                           due_date=(last_quarter + timedelta(days=30)).date(), actor=actor, now=last_quarter)
    former = {(u, p, s): how for u, p, s, how in FORMER}
    decided_at = last_quarter + timedelta(days=12)
    for item in closed.items.select_related("grant", "grant__user", "grant__service", "reviewer"):
        key = (item.grant.user.username, item.grant.privilege, item.grant.service.slug)
        how = former.get(key)
        if how == "policy":
            continue  # left undecided: the policy revokes it at close (inactive for months)
        reviewer = Actor.for_user(item.reviewer)
        if how == "revoke":
            item_decide(item=item, decision="revoke", actor=reviewer, now=decided_at)
        else:
            item_decide(item=item, decision="keep", actor=reviewer, now=decided_at,
                        justification="Still needed: confirmed with the team")
    # The PDF (tens of pages) is written on first download; the CSV now, so the demo stays fast.
    campaign_close(campaign=closed, actor=actor, now=last_quarter + timedelta(days=31), generate_reports=False)
    campaign_reports_store(campaign=ReviewCampaign.objects.get(pk=closed.pk), actor=actor, formats=["csv"])

    # This quarter: open, partly decided.
    period = quarter_period(now.date())
    opened_at = max(this_quarter, now - timedelta(days=10))
    current = campaign_open(name=f"Quarterly access review {period.replace('-', ' ')}", period=period,
                            due_date=(now + timedelta(days=21)).date(), actor=actor, now=opened_at)
    for item in current.items.select_related("grant", "grant__user", "reviewer").filter(
            reviewer__username__in=["payments-lead", "identity-lead"]):
        if rng.random() < 0.6 and item.grant.days_inactive(now) <= 90:
            item_decide(item=item, decision="keep", actor=Actor.for_user(item.reviewer), now=opened_at + timedelta(days=2))
    ctx.say(f"{len(grants)} grants, campaigns: {closed.name} (closed), {current.name} "
            f"({ReviewCampaign.objects.get(pk=current.pk).items.count()} items, open)")
