"""Demo change control: 12 months of changes in every state with their approvals, maintenance
windows, a year-end freeze, a CAB meeting next week with its agenda, an open emergency override,
an overdue post-mortem, standard change templates and a delegation. Idempotent and bulk."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Group

from apps.audit.actor import Actor, acting_as
from apps.audit.history import history_attrs
from apps.audit.services import audit_events_imported
from apps.change_types.models import ApprovalStage, ChangeType, StandardChangeTemplate

from . import risk, workflow
from .models import (
    Approval,
    CabAgendaItem,
    CabMeeting,
    CabMember,
    ChangeRequest,
    Delegation,
    EmergencyOverride,
    Freeze,
    MaintenanceWindow,
    WindowAgreement,
)
from .selectors import approval_basis

TITLES = ["Upgrade {svc} to the latest runtime", "Rotate {svc} TLS certificates", "Add index for {svc} lookups",
          "Scale {svc} replicas for peak", "Enable feature flag on {svc}", "Migrate {svc} config to vault",
          "Patch {svc} base image CVEs", "Tune {svc} connection pool", "Roll out {svc} API v2",
          "Retire legacy {svc} endpoint", "Database schema migration for {svc}", "Bump {svc} dependencies"]
PAST_STATES = ["closed"] * 12 + ["completed"] * 3 + ["failed", "rolled_back", "rejected", "cancelled"]
FUTURE_STATES = ["draft", "in_review", "in_review", "in_review", "approved", "scheduled", "scheduled"]
TEMPLATES = [("cert-rotation", "TLS certificate rotation", "Rotate certificates with cert-manager; verify chain."),
             ("scale-replicas", "Scale replicas within limits", "Change replica count within the HPA bounds."),
             ("feature-flag", "Feature flag toggle", "Toggle a flag for a cohort of at most 10 %.")]


def _slot(ctx, when: datetime, prod: bool) -> tuple[datetime, datetime]:
    """Prod changes go into the Tuesday/Thursday evening window, others into the nightly one."""
    if prod:
        while when.weekday() not in (1, 3):
            when += timedelta(days=1)
        start = when.replace(hour=20, minute=0, second=0, microsecond=0)
    else:
        start = when.replace(hour=ctx.rng.choice([0, 1, 2, 3]), minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def seed(ctx) -> None:
    if ChangeRequest.objects.exists():
        ctx.say("changes already seeded")
        return
    rng, now, users, envs = ctx.rng, ctx.now, ctx.users, ctx.environments
    groups = {g.name: g for g in Group.objects.filter(name__in=["security", "dba"])}
    if "security" in groups:
        users["carol"].groups.add(groups["security"])
    if "dba" in groups:
        users["dave"].groups.add(groups["dba"])
    types = {t.slug: t for t in ChangeType.objects.prefetch_related("stages")}
    if not {"standard", "normal", "emergency", "configuration"} <= set(types):
        ctx.say("seeded change types missing; run migrations")
        return

    year_start = now - timedelta(days=365)
    base = year_start.replace(hour=20, minute=0, second=0, microsecond=0)
    prod_window = MaintenanceWindow.objects.create(name="Production window (Tue/Thu evening)", environment=envs["prod"],
                                                   starts_at=base, duration_minutes=240, rrule="FREQ=WEEKLY;BYDAY=TU,TH",
                                                   # The stakeholder SLA (issue #15); its review is overdue.
                                                   notice_amount=3, notice_unit="business_days",
                                                   max_change_minutes=180, review_on=(now - timedelta(days=10)).date())
    WindowAgreement.objects.create(window=prod_window, user=users["heidi"], agreed_at=base + timedelta(days=1),
                                   recorded_by=users["heidi"])
    WindowAgreement.objects.create(window=prod_window, group_name="Payments operations",
                                   agreed_at=base + timedelta(days=2), recorded_by=users["heidi"])
    for slug in ("dev", "staging"):
        MaintenanceWindow.objects.create(name=f"Nightly {slug} window", environment=envs[slug],
                                         starts_at=base.replace(hour=0), duration_minutes=360, rrule="FREQ=DAILY")
    year_end = now.replace(month=12, day=15, hour=0, minute=0, second=0, microsecond=0)
    if year_end + timedelta(days=20) < now:
        year_end = year_end.replace(year=now.year + 1)
    Freeze.objects.create(name="Year-end freeze", reason="Financial year-end close: only emergency changes",
                          starts_at=year_end, ends_at=year_end + timedelta(days=19), created_by=users["heidi"])
    Freeze.objects.create(name="Payments peak freeze", reason="Black Friday traffic", team=ctx.teams["payments"],
                          starts_at=year_end - timedelta(days=40), ends_at=year_end - timedelta(days=36),
                          created_by=users["heidi"])

    templates = []
    for slug, name, description in TEMPLATES:
        templates.append(StandardChangeTemplate.objects.create(
            slug=slug, name=name, description=description, rollback_plan="Revert with the same procedure",
            state="approved", proposed_by=users["infra-lead"], approved_by=users["heidi"], approved_at=year_start))
    StandardChangeTemplate.objects.create(slug="log-level", name="Raise log level temporarily",
                                          description="Raise a service's log level for at most 24 h.",
                                          proposed_by=users["yusuf"])

    services = list(ctx.services.values())
    team_people: dict[int, list] = {}
    for user in users.values():
        for membership in user.memberships.all():
            team_people.setdefault(membership.team_id, []).append(user)
    leads = {t.pk: t.lead for t in ctx.teams.values()}

    changes: list[ChangeRequest] = []
    plan: list[tuple[ChangeRequest, str]] = []  # change, kind of approvals to add
    total = 360
    for i in range(total):
        when = year_start + timedelta(days=i * 365 / total + rng.random())
        future = i >= total - 45
        state = rng.choice(FUTURE_STATES if future else PAST_STATES)
        if future:
            when = now + timedelta(days=rng.randint(1, 30))
        service = rng.choice(services)
        env = envs[rng.choice(["prod", "prod", "staging", "dev"])]
        kind = rng.choices(["normal", "standard", "configuration"], [60, 22, 18])[0]
        people = [u for u in team_people.get(service.owner_team_id, []) if u.kind == "human"]
        requester = rng.choice(people) if people else users["alice"]
        if kind == "standard" and state in ("in_review", "approved", "rejected"):
            state = "scheduled"
        answers = {key: rng.random() < 0.25 for key in risk.QUESTION_KEYS}
        if kind != "normal":
            answers = {key: False for key in answers}
        start, end = _slot(ctx, when, env.is_production)
        change = ChangeRequest(
            title=rng.choice(TITLES).format(svc=service.name), description="1. Deploy\n2. Verify dashboards\n3. Announce",
            change_type=types[kind], service=service, environment=env, requester=requester,
            implementer=rng.choice(people) if people and rng.random() < 0.7 else None, state=state,
            planned_start=start, planned_end=end, rollout_strategy=rng.choice(["canary", "rolling", "blue_green"]),
            rollback_plan="Roll back to the previous release", rollback_criteria={"error_rate_pct": 5, "window_minutes": 5},
            compliance_scopes=list(service.compliance_scopes), risk_answers=answers,
            standard_template=rng.choice(templates) if kind == "standard" else None,
            # A change planned for next month was still filed in the past: nothing the demo
            # records as done is stamped after the seed time.
            created_at=min(start - timedelta(days=rng.randint(2, 10)), now - timedelta(hours=rng.randint(6, 96))))
        if change.implementer_id == requester.pk:
            change.implementer = None
        change.risk_score, change.risk_level, change.risk_breakdown = _quick_risk(answers, service)
        change.cab_required = types[kind].needs_cab(change.risk_level)
        if state != "draft":
            change.submitted_at = min(change.created_at + timedelta(hours=2), now - timedelta(hours=3))
        if state in ("approved", "scheduled", "implementing", "completed", "failed", "rolled_back", "closed"):
            change.approved_at = min(change.submitted_at + timedelta(hours=rng.randint(2, 60)),
                                     now - timedelta(minutes=30))
        if state in ("completed", "failed", "rolled_back", "closed"):
            change.implementation_started_at = start
            change.implemented_at = end
            change.outcome = state if state != "closed" else rng.choices(["completed", "failed", "rolled_back"], [85, 10, 5])[0]
        if state == "closed":
            change.closed_at = end + timedelta(days=1)
        change.content_hash = workflow.content_hash(change)
        changes.append(change)
        plan.append((change, "tech_done" if state == "in_review" and rng.random() < 0.5 else state))
    # Waiting for bob: high-risk normal changes whose earlier stages approved, CAB open.
    for j in range(5):
        service = services[(j * 5) % len(services)]
        people = [u for u in team_people.get(service.owner_team_id, []) if u.kind == "human"]
        start, end = _slot(ctx, now + timedelta(days=3 + j * 2), True)
        answers = {"database_change": j % 2 == 0, "customer_downtime": True, "rollback_untested": j % 3 == 0,
                   "security_controls": True, "new_technology": False, "multi_service": True}
        change = ChangeRequest(
            title=f"{TITLES[(j * 3) % len(TITLES)].format(svc=service.name)} (CAB)", change_type=types["normal"],
            description="High-risk change needing CAB.\n1. Announce\n2. Deploy canary\n3. Promote",
            service=service, environment=envs["prod"], requester=people[0] if people else users["alice"],
            state="in_review", planned_start=start, planned_end=end, rollout_strategy="canary",
            rollback_plan="Promote the previous canary", rollback_criteria={"error_rate_pct": 2, "p95_latency_ms": 800},
            compliance_scopes=list(service.compliance_scopes), risk_answers=answers,
            created_at=now - timedelta(days=2), submitted_at=now - timedelta(days=2, hours=-1))
        change.risk_score, change.risk_level, change.risk_breakdown = _quick_risk(answers, service)
        change.cab_required = True
        change.content_hash = workflow.content_hash(change)
        changes.append(change)
        plan.append((change, "cab_waiting"))
    # alice's own change waiting for review (she must see no approve button on it)
    start, end = _slot(ctx, now + timedelta(days=4), True)
    alice_change = ChangeRequest(
        title="Raise Payments API rate limits", change_type=types["normal"], service=ctx.services["payments-api"],
        environment=envs["prod"], requester=users["alice"], implementer=users["paul"], state="in_review",
        planned_start=start, planned_end=end, rollout_strategy="canary", rollback_plan="Restore previous limits",
        rollback_criteria={"error_rate_pct": 1, "p95_latency_ms": 600},
        description="Raise per-merchant limits from 100 to 150 rps.", compliance_scopes=["sox", "pci"],
        risk_answers={k: False for k in risk.QUESTION_KEYS}, created_at=now - timedelta(hours=6),
        submitted_at=now - timedelta(hours=5))
    alice_change.risk_score, alice_change.risk_level, alice_change.risk_breakdown = _quick_risk(
        alice_change.risk_answers, alice_change.service)
    alice_change.content_hash = workflow.content_hash(alice_change)
    changes.append(alice_change)
    plan.append((alice_change, "in_review"))

    for index, change in enumerate(changes):
        change.number = f"TMP-{index:06d}"  # unique placeholder until the pk is known
    ChangeRequest.objects.bulk_create(changes, batch_size=500)
    saved = list(ChangeRequest.objects.order_by("pk"))
    for change in saved:
        change.number = ChangeRequest.format_number(change.pk)
    ChangeRequest.objects.bulk_update(saved, ["number"], batch_size=500)
    people = {u.pk: u for u in users.values()}
    # History after the numbers are known, as the requester filing the change when they did.
    _history_as_of(saved, ChangeRequest, when_of=lambda c: c.created_at, actor_of=lambda c: people[c.requester_id])
    by_key = {(c.title, c.planned_start, c.service_id): c for c in saved}
    plan = [(by_key[(c.title, c.planned_start, c.service_id)], kind) for c, kind in plan]

    approvals = _approvals(ctx, plan, leads, team_people)
    approvals = Approval.objects.bulk_create(approvals, batch_size=500)
    if approvals and approvals[0].pk is None:  # a backend that returns no primary keys from a bulk insert
        approvals = list(Approval.objects.select_related("approver").order_by("pk"))
    _history_as_of(approvals, Approval, when_of=lambda a: a.decided_at, actor_of=lambda a: a.approver)
    for change, kind in plan:
        if kind in ("approved", "scheduled") and approval_basis(change) is None:
            # No one outside the change could approve one of its stages: it waits in review, as it
            # would in the portal (the gate decides on the approval record, not on the state).
            ChangeRequest.objects.filter(pk=change.pk).update(state="in_review", approved_at=None)
            change.state, change.approved_at = "in_review", None
            kind = "in_review"
        if kind in ("in_review", "cab_waiting", "tech_done"):
            workflow.sync_open_stages(change)

    _emergencies(ctx, types["emergency"], leads)
    _audit_the_history()
    meeting = CabMeeting.objects.create(title="Weekly CAB", chair=users["heidi"], quorum=2,
                                        starts_at=(now + timedelta(days=7)).replace(hour=14, minute=0, second=0,
                                                                                    microsecond=0))
    CabMember.objects.bulk_create([CabMember(meeting=meeting, user=users[u]) for u in ("heidi", "bob", "infra-lead")])
    from .cab import changes_needing_cab

    CabAgendaItem.objects.bulk_create([CabAgendaItem(meeting=meeting, change=c, position=i)
                                       for i, c in enumerate(changes_needing_cab(before=meeting.starts_at)[:12], 1)])
    Delegation.objects.create(delegator=users["dave"], delegate=users["bob"], starts_at=now - timedelta(days=1),
                              ends_at=now + timedelta(days=6), reason="Dave on holiday: DBA sign-off to Bob")
    ctx.say(f"{ChangeRequest.objects.count()} changes, {Approval.objects.count()} approvals, "
            f"{meeting.agenda.count()} on next week's CAB agenda, windows, year-end freeze ({prod_window.name}, …)")


def _history_as_of(objs: list, model, *, when_of, actor_of) -> None:
    """The creation history row of each bulk-created record, dated when the record says it
    happened and naming who did it (simple-history's bulk helper would date every row now and
    name no one: "system created" today on a year-old change)."""
    by_actor: dict = {}
    for obj in objs:
        obj._history_date = when_of(obj)
        by_actor.setdefault(actor_of(obj), []).append(obj)
    for actor, group in by_actor.items():
        user, attrs = history_attrs(actor)
        model.history.bulk_history_create(group, batch_size=500, default_user=user, custom_historical_attrs=attrs)


def _quick_risk(answers: dict, service) -> tuple[int, str, list[dict]]:
    """The documented score without the per-team failure-rate query (demo speed)."""
    breakdown = [{"factor": k, "label": q, "points": p} for k, q, p in risk.QUESTIONS if answers.get(k)]
    breakdown.append({"factor": "service_tier", "label": f"Service tier {service.tier}",
                      "points": risk.TIER_POINTS.get(service.tier, 0)})
    breakdown.append({"factor": "team_failure_rate", "label": "Team change failure rate (demo)", "points": 4})
    score = sum(b["points"] for b in breakdown)
    return score, risk.level_for(score), breakdown


def _approvals(ctx, plan, leads, team_people) -> list[Approval]:
    rng, users = ctx.rng, ctx.users
    out: list[Approval] = []

    def pick(stage: ApprovalStage, change: ChangeRequest):
        excluded = {change.requester_id, change.implementer_id}
        if stage.approver_kind == ApprovalStage.ApproverKind.OWNING_TEAM:
            lead = leads.get(change.service.owner_team_id)
            pool = [lead] if lead and lead.pk not in excluded else []
            pool += [u for u in team_people.get(change.service.owner_team_id, []) if u.pk not in excluded]
        else:
            pool = [u for u in users.values() if stage.approver_group in u.role_names() and u.pk not in excluded]
        return [u for u in pool if u is not None]

    for change, kind in plan:
        stages = workflow.applicable_stages(change)
        if kind in ("draft", "in_review", "cancelled") or not stages:
            continue
        when = change.submitted_at or change.created_at
        used: set[int] = set()
        for index, stage in enumerate(stages):
            if (kind == "cab_waiting" and stage.is_cab) or (kind == "tech_done" and index >= 1):
                break
            pool = [u for u in pick(stage, change) if u.pk not in used]
            needed = stage.quorum if stage.rule == "quorum" else 1
            chosen = rng.sample(pool, min(needed, len(pool))) if pool else []
            last = index == len(stages) - 1
            for person in chosen:
                used.add(person.pk)
                # Decisions of changes still in review happened before the seed time, not after.
                when = min(when + timedelta(hours=rng.randint(1, 20)), ctx.now - timedelta(minutes=20))
                reject = kind == "rejected" and last
                out.append(Approval(change=change, stage=stage, stage_name=stage.name, approver=person,
                                    decision="reject" if reject else "approve",
                                    comment="Rollback plan is not tested" if reject else rng.choice(
                                        ["LGTM", "Approved", "OK with the rollback plan", "Fine in the window"]),
                                    content_hash=change.content_hash, decided_at=when))
    return out


def _audit_the_history() -> None:
    """The year of history goes into the audit log too, as imported events naming who acted and when."""
    audit_events_imported(ChangeRequest.objects.order_by("pk"), action="change.created",
                          actor_id_of=lambda c: c.requester_id, occurred_at_of=lambda c: c.created_at,
                          repr_of=lambda c: f"{c.number} {c.title}", details_of=lambda c: {"state": c.state})
    audit_events_imported(Approval.objects.select_related("change").order_by("pk"),
                          action=lambda a: f"change.approval.{a.decision}", actor_id_of=lambda a: a.approver_id,
                          occurred_at_of=lambda a: a.decided_at, repr_of=lambda a: f"{a.change.number} {a.stage_name}")
    audit_events_imported(EmergencyOverride.objects.select_related("change").order_by("pk"),
                          action="change.emergency.override_granted", actor_id_of=lambda o: o.authorised_by_id,
                          occurred_at_of=lambda o: o.authorised_at, repr_of=lambda o: o.change.number,
                          details_of=lambda o: {"reason": o.reason})


def _dated(obj, when: datetime, actor):
    """Save a demo record with its history row dated `when` and naming `actor` (who did it then)."""
    obj._history_date = when
    with acting_as(Actor.for_user(actor)):
        obj.save()
    return obj


def _emergencies(ctx, emergency_type, leads) -> None:
    users, envs, now = ctx.users, ctx.environments, ctx.now
    service = ctx.services["checkout"]
    opened = now - timedelta(hours=3, minutes=30)
    open_change = ChangeRequest(
        title="Hotfix: checkout 500s after card network change", change_type=emergency_type, service=service,
        environment=envs["prod"], requester=users["sam"], implementer=users["storefront-lead"], state="implementing",
        planned_start=now - timedelta(hours=3), planned_end=now + timedelta(hours=1), rollout_strategy="rolling",
        rollback_plan="Redeploy previous image", description="Patch the card network client timeout.",
        risk_level="high", risk_score=55, cab_required=True, created_at=opened,
        submitted_at=now - timedelta(hours=3, minutes=20),
        implementation_started_at=now - timedelta(hours=2, minutes=50), post_mortem_due_at=now + timedelta(days=5))
    # The number needs the primary key: take it from the sequence the first save uses, then
    # write number and content hash in the same dated row.
    _dated(open_change, opened, users["sam"])
    open_change.number = ChangeRequest.format_number(open_change.pk)
    open_change.content_hash = workflow.content_hash(open_change)
    _dated(open_change, opened, users["sam"])
    _dated(EmergencyOverride(change=open_change, authorised_by=users["heidi"],
                             reason="Checkout failing for 30 % of card payments", authorised_at=now - timedelta(hours=3),
                             expires_at=now + timedelta(hours=21)), now - timedelta(hours=3), users["heidi"])
    workflow.sync_open_stages(open_change)
    filed = now - timedelta(days=8, hours=2)
    late = ChangeRequest(
        title="Hotfix: ledger double-posting", change_type=emergency_type, service=ctx.services["ledger"],
        environment=envs["prod"], requester=users["paul"], implementer=users["payments-lead"], state="completed",
        outcome="completed", created_at=filed, planned_start=now - timedelta(days=8),
        planned_end=now - timedelta(days=8, hours=-1),
        rollback_plan="Reverse postings", description="Stop the duplicate consumer and reverse postings.",
        risk_level="critical", risk_score=80, cab_required=True, submitted_at=now - timedelta(days=8, hours=1),
        approved_at=now - timedelta(days=7), implementation_started_at=now - timedelta(days=8),
        implemented_at=now - timedelta(days=8, hours=-1), post_mortem_due_at=now - timedelta(days=3))
    _dated(late, filed, users["paul"])
    late.number = ChangeRequest.format_number(late.pk)
    late.content_hash = workflow.content_hash(late)
    _dated(late, filed, users["paul"])
    _dated(EmergencyOverride(change=late, authorised_by=users["heidi"], reason="Customers double-charged",
                             authorised_at=now - timedelta(days=8), expires_at=now - timedelta(days=7),
                             retro_approved_at=now - timedelta(days=7, hours=4)), now - timedelta(days=8), users["heidi"])
    stage = emergency_type.stages.first()
    _dated(Approval(change=late, stage=stage, stage_name=stage.name, approver=users["bob"], decision="approve",
                    comment="Retrospective approval", content_hash=late.content_hash,
                    decided_at=now - timedelta(days=7, hours=4)), now - timedelta(days=7, hours=4), users["bob"])
