"""Demo incidents: 12 months of them (most linked explicitly, some inferred, some marked "no
deployment", a few still unrestored), rollbacks, runbooks (a few overdue), reviews with open
and done action items, and a couple of subscriptions.

Links prefer the production deployments the delivery demo already made; a service without any
gets the few deployment rows its incidents need. Bulk inserts keep it to a few seconds."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from simple_history.utils import bulk_create_with_history

from apps.accounts.models import TeamMembership
from apps.delivery.models import Deployment

from .models import (
    ActionItem,
    Incident,
    IncidentClassification,
    IncidentRollback,
    IncidentUpdate,
    Review,
    Runbook,
    RunbookStep,
    RunbookTest,
    ServiceSubscription,
)
from .runbooks import previous_quarter_start, quarter_start
from .taxonomy import ensure_taxonomy

S = Incident.Status

# Services with incidents, and how many over the year (others stay quiet).
INCIDENT_SERVICES = {
    "payments-api": 9, "checkout": 8, "auth-service": 7, "api-gateway": 6, "card-vault": 4, "ledger": 4,
    "web-store": 5, "mobile-bff": 4, "etl-pipelines": 4, "user-profile": 3, "catalog-search": 3,
    "k8s-platform": 3, "data-warehouse": 2, "push-notifications": 2,
}
TITLES = {
    "code-defect": ["Null pointer in {svc} request handler", "Regression in {svc} pricing logic",
                    "{svc} returns 500 on empty payloads", "Serialisation bug in {svc} v{ver}"],
    "configuration-error": ["Wrong connection pool size for {svc}", "Feature flag misconfigured in {svc}",
                            "TLS certificate path wrong after {svc} deploy"],
    "schema-migration": ["Lock contention from {svc} migration", "{svc} migration dropped an index"],
    "dependency": ["Upstream client library timeout in {svc}", "{svc} incompatible with new SDK"],
    "capacity": ["{svc} saturated at peak traffic", "Disk full on {svc} nodes"],
    "infrastructure": ["Node pool eviction storm hit {svc}", "Load balancer health checks failing for {svc}"],
    "third-party": ["Payment processor outage affecting {svc}", "DNS provider degradation hit {svc}"],
}
RELEASE_WEIGHTS = [("code-defect", 5), ("configuration-error", 4), ("schema-migration", 2), ("dependency", 2),
                   ("capacity", 1), ("infrastructure", 1), ("third-party", 1)]
RUNBOOK_STEPS = [
    ("code", "Redeploy the previous artifact digest through the pipeline's rollback job.",
     "Version endpoint reports the previous version"),
    ("configuration", "Restore the previous configuration revision and feature-flag set.",
     "Config checksum matches the last known good"),
    ("schema", "Run the down migration if the release changed the schema; otherwise confirm it is "
               "backward compatible.", "Schema version equals the previous release's"),
    ("code", "Drain and recycle workers; watch error rate and p95 for 15 minutes.",
     "Error rate below the rollback criteria"),
]


def _pick_classification(rng) -> str:
    population = [slug for slug, weight in RELEASE_WEIGHTS for _ in range(weight)]
    return rng.choice(population)


def seed(ctx) -> None:
    ensure_taxonomy()
    if Incident.objects.exists():
        ctx.say("incidents already present — skipped")
        return
    rng, now = ctx.rng, ctx.now
    prod = ctx.environments.get("prod")
    if prod is None:
        return
    classifications = {c.slug: c for c in IncidentClassification.objects.all()}
    system = ctx.users.get("admin")
    services = {slug: ctx.services[slug] for slug in INCIDENT_SERVICES if slug in ctx.services}
    members_by_team: dict[int, list] = {}
    for membership in (TeamMembership.objects.select_related("user")
                       .filter(team__in=[s.owner_team_id for s in services.values()])):
        members_by_team.setdefault(membership.team_id, []).append(membership.user)

    # Existing production deployments, per service, oldest first (one query).
    existing: dict[int, list[Deployment]] = {}
    for d in (Deployment.objects.filter(service__in=services.values(), environment=prod, finished_at__isnull=False)
              .order_by("finished_at")):
        existing.setdefault(d.service_id, []).append(d)

    # 1. Incident plans: start time per incident across the last 12 months.
    plans = []
    for slug, count in INCIDENT_SERVICES.items():
        service = services.get(slug)
        if service is None:
            continue
        for _ in range(count):
            started = now - timedelta(days=rng.uniform(2, 365), minutes=rng.randint(0, 600))
            plans.append((service, started))
    # A few recent ones stay unrestored (open / mitigated).
    for slug in ("checkout", "auth-service", "payments-api"):
        if slug in services:
            plans.append((services[slug], now - timedelta(hours=rng.randint(2, 30))))
    plans.sort(key=lambda p: p[1])

    # 2. Deployments only for services that have none: one succeeded production deploy shortly
    #    before each of their incidents, so the links have something to point at.
    new_deployments = []
    for service, started in plans:
        if existing.get(service.pk):
            continue
        finished = started - timedelta(hours=rng.uniform(0.5, 20))
        new_deployments.append(Deployment(
            service=service, environment=prod, status=Deployment.Status.SUCCEEDED, kind=Deployment.Kind.NORMAL,
            version=f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}", started_at=finished - timedelta(minutes=12),
            finished_at=finished, created_by=system, pipeline_run_id=f"demo-{rng.randint(10000, 99999)}"))
    if new_deployments:
        bulk_create_with_history(new_deployments, Deployment, default_user=system)
        for d in Deployment.objects.filter(service__in=[d.service for d in new_deployments], environment=prod,
                                           finished_at__isnull=False).order_by("finished_at"):
            existing.setdefault(d.service_id, [])
            if d not in existing[d.service_id]:
                existing[d.service_id].append(d)

    def last_succeeded_before(service, moment):
        found = None
        for d in existing.get(service.pk, []):
            if d.finished_at >= moment:
                break
            if d.status == Deployment.Status.SUCCEEDED:
                found = d
        return found

    # 3. Incidents.
    incidents = []
    unrestored_cut = now - timedelta(days=2)
    for service, started in plans:
        slug = _pick_classification(rng)
        team_people = members_by_team.get(service.owner_team_id) or [system]
        commander = rng.choice(team_people)
        severity = rng.choices(["sev1", "sev2", "sev3", "sev4"], weights=[1, 3, 5, 2])[0]
        candidate = last_succeeded_before(service, started)
        roll = rng.random()
        caused_by, suppressed, reason = None, False, ""
        if slug in ("third-party", "capacity", "infrastructure") and roll < 0.7:
            suppressed, reason = True, "Not release-related: " + classifications[slug].name.lower() + "."
        elif candidate is not None and roll < 0.65:
            caused_by = candidate  # explicit: the pipeline or the commander named the deployment
        # else: left to the inferred rule
        unrestored = started > unrestored_cut
        detected = started + timedelta(minutes=rng.randint(2, 15))
        acknowledged = detected + timedelta(minutes=rng.randint(1, 10))
        mitigated = acknowledged + timedelta(minutes=rng.randint(10, 90))
        resolved = mitigated + timedelta(minutes=rng.randint(15, 480))
        status = S.CLOSED if resolved < now - timedelta(days=21) else S.RESOLVED
        if unrestored:
            status = rng.choice([S.OPEN, S.MITIGATED])
            severity = rng.choice(["sev1", "sev2", "sev3"])
        title = rng.choice(TITLES[slug]).format(svc=service.name, ver=candidate.version if candidate else "2")
        incidents.append(Incident(
            service=service, title=title, severity=severity, status=status, classification=classifications[slug],
            commander=commander, started_at=started, detected_at=detected, acknowledged_at=acknowledged,
            mitigated_at=mitigated if status != S.OPEN else None,
            resolved_at=resolved if status in (S.RESOLVED, S.CLOSED) else None,
            caused_by_deployment=caused_by, link_suppressed=suppressed, link_override_reason=reason,
            link_overridden_by=commander if suppressed else None,
            link_overridden_at=mitigated if suppressed else None,
            created_by=commander, created_at=detected,
        ))
    bulk_create_with_history(incidents, Incident, default_user=system)
    incidents = list(Incident.objects.select_related("service", "commander", "caused_by_deployment")
                     .order_by("started_at"))

    # 4. Timelines, rollbacks (about a third of the explicitly linked ones), reviews.
    updates, rollback_deployments, rollback_links, reviews = [], [], [], []
    for incident in incidents:
        who = incident.commander
        updates.append(IncidentUpdate(incident=incident, kind="opened", to_status="open", author=who,
                                      created_at=incident.detected_at, message="Paged on error-rate alert."))
        updates.append(IncidentUpdate(incident=incident, kind="note", author=who,
                                      created_at=incident.acknowledged_at, message="Investigating; commander assigned."))
        if incident.mitigated_at:
            updates.append(IncidentUpdate(incident=incident, kind="status", from_status="open", to_status="mitigated",
                                          author=who, created_at=incident.mitigated_at,
                                          message="Impact mitigated; monitoring."))
        if incident.resolved_at:
            updates.append(IncidentUpdate(incident=incident, kind="status", from_status="mitigated",
                                          to_status="resolved", author=who, created_at=incident.resolved_at,
                                          message="Error rate back to baseline."))
        if incident.status == S.CLOSED:
            updates.append(IncidentUpdate(incident=incident, kind="status", from_status="resolved",
                                          to_status="closed", author=who,
                                          created_at=incident.resolved_at + timedelta(days=rng.randint(3, 10))))
        failed = incident.caused_by_deployment
        if failed is not None and incident.mitigated_at and rng.random() < 0.4:
            rollback_deployments.append(Deployment(
                service=incident.service, environment=prod, status=Deployment.Status.SUCCEEDED,
                kind=Deployment.Kind.ROLLBACK, rollback_of=failed, version=f"{failed.version}-rollback",
                started_at=incident.mitigated_at - timedelta(minutes=12),
                finished_at=incident.mitigated_at - timedelta(minutes=2), created_by=system,
                pipeline_run_id=f"demo-rb-{incident.pk}"))
            rollback_links.append(incident)
        if incident.resolved_at and (incident.review_required or rng.random() < 0.15):
            due = incident.resolved_at.date() + timedelta(days=5)
            done = incident.status == S.CLOSED or due < (now - timedelta(days=40)).date()
            reviews.append(Review(
                incident=incident, facilitator=who, due_date=due,
                status=Review.Status.COMPLETED if done else Review.Status.DRAFT,
                summary=f"{incident.title}. Customer impact for "
                        f"{int((incident.resolved_at - incident.started_at).total_seconds() // 60)} minutes." if done else "",
                timeline="Detected by alert; mitigated by rollback or config revert; resolved after verification."
                if done else "",
                contributing_factors="The change passed tests that did not cover this path; the canary window "
                                     "was too short to see it." if done else "",
                what_went_well="Fast detection and a tested rollback." if done else "",
                completed_at=incident.resolved_at + timedelta(days=3) if done else None,
                created_at=incident.resolved_at))
    IncidentUpdate.objects.bulk_create(updates, batch_size=500)
    if rollback_deployments:
        bulk_create_with_history(rollback_deployments, Deployment, default_user=system)
        created = {d.pipeline_run_id: d for d in Deployment.objects.filter(pipeline_run_id__startswith="demo-rb-")}
        links = []
        for incident in rollback_links:
            deployment = created.get(f"demo-rb-{incident.pk}")
            if deployment is not None:
                links.append(IncidentRollback(incident=incident, deployment=deployment,
                                              failed_deployment=incident.caused_by_deployment,
                                              recorded_by=incident.commander, recorded_at=deployment.finished_at,
                                              note="Rolled back per runbook."))
                updates_msg = f"Rollback deployment #{deployment.pk} of #{incident.caused_by_deployment_id}."
                IncidentUpdate.objects.create(incident=incident, kind="rollback", author=incident.commander,
                                              created_at=deployment.finished_at, message=updates_msg)
        bulk_create_with_history(links, IncidentRollback, default_user=system)
    bulk_create_with_history(reviews, Review, default_user=system)

    # 5. Action items: done for completed reviews, open (some overdue) for drafts.
    items = []
    types = [t for t, _ in ActionItem.Type.choices]
    item_titles = {"new_test": "Add a regression test for the failing path",
                   "monitoring": "Alert on connection pool saturation",
                   "approval_policy": "Require DBA approval for migrations on tier-1 services",
                   "runbook": "Add the schema step to the rollback runbook",
                   "pipeline_check": "Extend canary analysis to 30 minutes", "other": "Share the learnings at guild"}
    for review in Review.objects.select_related("incident"):
        team_people = members_by_team.get(review.incident.service.owner_team_id) or [system]
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(types)
            completed = review.status == Review.Status.COMPLETED and rng.random() < 0.75
            due = review.due_date + timedelta(days=rng.randint(7, 45))
            items.append(ActionItem(
                review=review, title=item_titles[kind], type=kind, owner=rng.choice(team_people), due_date=due,
                status=ActionItem.Status.DONE if completed else rng.choice([ActionItem.Status.OPEN,
                                                                            ActionItem.Status.IN_PROGRESS]),
                completed_at=(review.completed_at or now) + timedelta(days=5) if completed else None))
    bulk_create_with_history(items, ActionItem, default_user=system)

    # 6. Runbooks: most services; a few overdue or never tested.
    runbooks = []
    this_quarter = quarter_start(now.date())
    for service in ctx.services.values():
        if service.slug in ("ci-runners", "reporting-api"):
            continue  # no runbook yet: shown as missing
        owner = service.owner_team.lead or system
        runbooks.append(Runbook(service=service, owner=owner, summary=f"Rolling back {service.name} to the "
                                "previous release: code, configuration, then schema."))
    bulk_create_with_history(runbooks, Runbook, default_user=system)
    runbooks = list(Runbook.objects.select_related("service", "owner"))
    steps, tests = [], []
    overdue_slugs = {"etl-pipelines", "push-notifications", "recommendations", "observability"}
    for runbook in runbooks:
        for position, (area, instruction, verification) in enumerate(RUNBOOK_STEPS, start=1):
            steps.append(RunbookStep(runbook=runbook, position=position, area=area, instruction=instruction,
                                     verification=verification))
        if runbook.service.slug == "observability":
            continue  # never tested
        if runbook.service.slug in overdue_slugs:
            moments = [now - timedelta(days=rng.randint(200, 300))]
        else:
            moments = [now - timedelta(days=rng.randint(120, 180)),
                       max(now - timedelta(days=rng.randint(1, 60)),
                           timezone_aware(previous_quarter_start(now.date())) + timedelta(days=1))]
        for moment in moments:
            tests.append(RunbookTest(runbook=runbook, tested_at=moment, tested_by=runbook.owner, outcome="passed",
                                     environment=ctx.environments.get("staging"), notes="Game day rollback drill."))
        runbook.last_tested_at = max(moments)
    RunbookStep.objects.bulk_create(steps, batch_size=500)
    RunbookTest.objects.bulk_create(tests, batch_size=500)
    Runbook.objects.bulk_update(runbooks, ["last_tested_at"])

    # 7. Subscriptions: the executive follows the tier-1 payment path.
    frank = ctx.users.get("frank")
    if frank is not None:
        ServiceSubscription.objects.bulk_create([
            ServiceSubscription(service=ctx.services[s], user=frank) for s in ("payments-api", "checkout")
            if s in ctx.services], ignore_conflicts=True)

    linked = Incident.objects.filter(Q(caused_by_deployment__isnull=False)).count()
    ctx.say(f"{len(incidents)} incidents ({linked} explicitly linked, "
            f"{Incident.objects.filter(link_suppressed=True).count()} not deployment-related, "
            f"{Incident.objects.filter(resolved_at__isnull=True).count()} unrestored), "
            f"{len(rollback_links)} rollbacks, {len(runbooks)} runbooks, {Review.objects.count()} reviews, "
            f"{len(items)} action items; tests this quarter from {this_quarter}")


def timezone_aware(day):
    from datetime import datetime, time

    from django.utils import timezone

    return timezone.make_aware(datetime.combine(day, time.min))
