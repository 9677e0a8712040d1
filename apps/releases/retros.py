"""The improvement loop: retrospectives after every release and every rollback, issues users
report against a release, and typed action items that close only once what they produced is
live — a gate rule registered, a template version approved, a policy change completed, a health
check active in its service's validation health policy. Every
write is audited. `retro_month_figures` feeds the monthly report.

Who may: release managers run retrospectives and their actions (an action's owner may close
it); any portal member of support or operations files a user issue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from apps.accounts.permissions import is_portal_member
from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as
from apps.audit.services import audit_event_record
from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest, ChangeState
from apps.delivery.gate_rules import registered_gate_rules
from apps.delivery.models import Deployment
from apps.incidents.models import Incident
from apps.validation.models import HealthPolicy
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import PipelineTemplateVersion, Release, ReleaseState, RetroAction, Retrospective, UserIssue
from .models.templates import TemplateVersionStatus


def _user_of(actor: Any):
    return resolve_actor(actor).user


def _person(actor: Any):
    """The person or service account acting, whose rights are checked; None for the portal's own
    tasks and commands (beat, the demo), which act on no one's behalf."""
    resolved = resolve_actor(actor)
    return resolved.user if resolved.kind in ("user", "service_account") else None


def can_run_retros(user) -> bool:
    return bool(user is not None and (user.is_superuser or user.has_role("release_manager")))


def can_file_issue(user) -> bool:
    return bool(user is not None and is_portal_member(user))


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


# --- retrospectives -------------------------------------------------------------------------

def retrospective_open(*, kind: str, actor: Any, release: Release | None = None,
                       deployment: Deployment | None = None, title: str = "", summary: str = "") -> Retrospective:
    user, person = _user_of(actor), _person(actor)
    if person is not None:
        _require(can_run_retros(person), "Only release managers open retrospectives.")
    if kind == Retrospective.Kind.RELEASE:
        if release is None:
            raise InvalidInput("A release retrospective names its release.", fields={"release": ["required"]})
        if release.state != ReleaseState.RELEASED:
            raise Conflict(f"{release} is {release.state}; a retrospective follows a shipped release.",
                           code="release_not_released", fields={"release": [release.state]})
        service, title = None, title or f"Retrospective: {release.name}"
    elif kind == Retrospective.Kind.ROLLBACK:
        if deployment is None:
            raise InvalidInput("A rollback retrospective names the rollback deployment.",
                               fields={"deployment": ["required"]})
        if deployment.kind != Deployment.Kind.ROLLBACK and deployment.status != Deployment.Status.ROLLED_BACK:
            raise InvalidInput(f"Deployment #{deployment.pk} is not a rollback.", fields={"deployment": ["not a rollback"]})
        service = deployment.service
        title = title or f"Rollback of {deployment.service.slug} in {deployment.environment.slug} (#{deployment.pk})"
    else:
        raise InvalidInput(f"Unknown kind {kind!r}.", fields={"kind": ["release or rollback"]})
    try:
        with atomic_as(actor):
            retro = Retrospective.objects.create(kind=kind, release=release, deployment=deployment, service=service,
                                                 title=title[:200], summary=summary, created_by=user)
            audit_event_record(action="releases.retrospective_opened", target=retro, actor=actor, details={
                "kind": kind, "release": release.pk if release else None,
                "deployment": deployment.pk if deployment else None})
    except IntegrityError:
        raise Conflict("This release or rollback already has its retrospective.", code="retrospective_exists") from None
    return retro


def retrospectives_open_missing(*, actor: Any, since: dt.datetime) -> int:
    """Every release shipped and every production rollback since `since` gets its retrospective
    (run by the beat schedule; safe to repeat)."""
    opened = 0
    releases = Release.objects.filter(state=ReleaseState.RELEASED, released_at__gte=since, retrospectives__isnull=True)
    for release in releases:
        try:
            retrospective_open(kind=Retrospective.Kind.RELEASE, release=release, actor=actor)
            opened += 1
        except Conflict:
            continue
    rollbacks = (Deployment.objects.select_related("service", "environment")
                 .filter(Q(kind=Deployment.Kind.ROLLBACK) | Q(status=Deployment.Status.ROLLED_BACK),
                         environment__is_production=True, started_at__gte=since, retrospectives__isnull=True))
    for deployment in rollbacks:
        try:
            retrospective_open(kind=Retrospective.Kind.ROLLBACK, deployment=deployment, actor=actor)
            opened += 1
        except Conflict:
            continue
    return opened


def retrospective_hold(*, retrospective: Retrospective, summary: str, actor: Any) -> Retrospective:
    person = _person(actor)
    if person is not None:
        _require(can_run_retros(person), "Only release managers record retrospectives.")
    with atomic_as(actor):
        locked = Retrospective.objects.select_for_update().get(pk=retrospective.pk)
        locked.summary, locked.status, locked.held_at = summary, Retrospective.Status.HELD, timezone.now()
        locked.save(update_fields=["summary", "status", "held_at"])
        audit_event_record(action="releases.retrospective_held", target=locked, actor=actor,
                           details={"summary": summary[:500]})
    return locked


# --- user issues ----------------------------------------------------------------------------

def user_issue_file(*, release: Release, title: str, channel: str, actor: Any, description: str = "",
                    impact: str = UserIssue.Impact.MEDIUM, customer_reference: str = "", service=None) -> UserIssue:
    user, person = _user_of(actor), _person(actor)
    if person is not None:
        _require(can_file_issue(person), "Only portal members file user issues.")
    if channel not in UserIssue.Channel.values:
        raise InvalidInput("channel is support or operations.", fields={"channel": ["support or operations"]})
    if impact not in UserIssue.Impact.values:
        raise InvalidInput("impact is low, medium or high.", fields={"impact": ["low, medium or high"]})
    if not (title or "").strip():
        raise InvalidInput("Say what users reported.", fields={"title": ["required"]})
    if service is not None and not release.services.filter(pk=service.pk).exists():
        raise InvalidInput(f"{service.slug} is not in {release}.", fields={"service": ["not in this release"]})
    with atomic_as(actor):
        issue = UserIssue.objects.create(release=release, service=service, title=title.strip()[:200],
                                         description=description, channel=channel, impact=impact,
                                         customer_reference=customer_reference[:100], reported_by=user)
        audit_event_record(action="releases.user_issue_filed", target=issue, actor=actor, details={
            "release": release.pk, "channel": channel, "impact": impact, "service": service.slug if service else ""})
    return issue


# --- action items ---------------------------------------------------------------------------

def retro_action_add(*, retrospective: Retrospective, title: str, type: str, owner, due_date: dt.date,
                     link_kind: str, link_ref: str, actor: Any) -> RetroAction:
    person = _person(actor)
    if person is not None:
        _require(can_run_retros(person), "Only release managers add retrospective actions.")
    problems = {}
    if type not in RetroAction.Type.values:
        problems["type"] = [f"one of {', '.join(RetroAction.Type.values)}"]
    if link_kind not in RetroAction.LinkKind.values:
        problems["link_kind"] = [f"one of {', '.join(RetroAction.LinkKind.values)}"]
    if not (link_ref or "").strip():
        problems["link_ref"] = ["name what the action produces"]
    if not (title or "").strip():
        problems["title"] = ["required"]
    policy = None
    if not problems and link_kind == RetroAction.LinkKind.HEALTH_CHECK:
        policy, _, problem = health_check_lookup(link_ref)
        if problem:
            problems["link_ref"] = [problem]
    if problems:
        raise InvalidInput("The action item is incomplete.", fields=problems)
    with atomic_as(actor):
        action = RetroAction.objects.create(retrospective=retrospective, title=title.strip()[:200], type=type,
                                            owner=owner, due_date=due_date, link_kind=link_kind,
                                            link_ref=link_ref.strip()[:120], health_policy=policy)
        audit_event_record(action="releases.retro_action_added", target=action, actor=actor, details={
            "retrospective": retrospective.pk, "type": type, "link_kind": link_kind, "link_ref": action.link_ref,
            "owner": owner.get_username(), "due_date": due_date.isoformat()})
    return action


HEALTH_CHECK_REF = "<service>/<environment>:<metric>"


def health_check_lookup(link_ref: str) -> tuple[HealthPolicy | None, str, str]:
    """(the health policy of the service × environment a health-check link names, the metric,
    why the reference is unusable or ""). The policy may not exist yet: the action produces it."""
    target, _, metric = link_ref.strip().partition(":")
    service_slug, _, environment_slug = target.partition("/")
    metric = metric.strip()
    if not (service_slug and environment_slug and metric):
        return None, metric, f"name the health check as {HEALTH_CHECK_REF}, e.g. payments-api/prod:error_rate_pct"
    service = Service.objects.filter(slug=service_slug.strip()).first()
    environment = Environment.objects.filter(slug=environment_slug.strip()).first()
    if service is None or environment is None:
        unknown = service_slug if service is None else environment_slug
        return None, metric, f"no service or environment {unknown.strip()}"
    return HealthPolicy.objects.filter(service=service, environment=environment).first(), metric, ""


def _health_check_live(link_ref: str) -> tuple[bool, str, HealthPolicy | None]:
    """Live when the service × environment's validation health policy holds a check on the metric:
    every deployment there is then judged by it."""
    policy, metric, problem = health_check_lookup(link_ref)
    if problem:
        return False, f"health check {link_ref.strip()} cannot be verified: {problem}", None
    if policy is None:
        return False, f"health check {link_ref.strip()} is not live: no health policy for that service and " \
                      "environment", None
    if not any(check.get("metric") == metric for check in policy.checks or []):
        return False, f"health check {link_ref.strip()} is not live: the health policy has no check on {metric}", policy
    return True, f"health check {link_ref.strip()} is active in the validation health policy", policy


def link_live(link_kind: str, link_ref: str) -> tuple[bool, str]:
    """Whether what an action produced is live now, and how the portal can tell."""
    ref = link_ref.strip()
    if link_kind == RetroAction.LinkKind.GATE_RULE:
        live = ref in {rule.name for rule in registered_gate_rules()}
        return live, f"gate rule {ref} is {'registered' if live else 'not registered'} in the gate"
    if link_kind == RetroAction.LinkKind.TEMPLATE_VERSION:
        slug, _, version = ref.partition("@")
        row = PipelineTemplateVersion.objects.filter(template__slug=slug, version=version).first()
        live = row is not None and row.status == TemplateVersionStatus.APPROVED
        return live, f"template version {ref} is {row.status if row else 'not registered'}"
    if link_kind == RetroAction.LinkKind.POLICY_CHANGE:
        change = ChangeRequest.objects.filter(number__iexact=ref).first()
        live = change is not None and change.state in (ChangeState.COMPLETED, ChangeState.CLOSED)
        return live, f"change {ref} is {change.state if change else 'unknown'}"
    live, how, _ = _health_check_live(ref)
    return live, how


def retro_action_close(*, action: RetroAction, actor: Any) -> RetroAction:
    person = _person(actor)
    if person is not None:
        _require(can_run_retros(person) or action.owner_id == person.pk,
                 "Only the action's owner or a release manager closes it.")
    with atomic_as(actor):
        locked = RetroAction.objects.select_for_update().get(pk=action.pk)
        if locked.status == RetroAction.Status.SHIPPED:
            return locked
        if locked.link_kind == RetroAction.LinkKind.HEALTH_CHECK:
            live, how, policy = _health_check_live(locked.link_ref)
            locked.health_policy = policy or locked.health_policy  # the policy that proved it
        else:
            live, how = link_live(locked.link_kind, locked.link_ref)
        if not live:
            raise Conflict(f"Not live yet: {how}.", code="not_live", fields={"link_ref": [how]})
        locked.status, locked.shipped_at, locked.verification = RetroAction.Status.SHIPPED, timezone.now(), how[:300]
        locked.save(update_fields=["status", "shipped_at", "verification", "health_policy"])
        audit_event_record(action="releases.retro_action_shipped", target=locked, actor=actor, details={
            "link_kind": locked.link_kind, "link_ref": locked.link_ref, "verification": how})
    return locked


# --- the monthly report ---------------------------------------------------------------------

# A classification seen in this many teams' incidents in one month is a recurring pattern.
RECURRING_TEAMS = 2


def retro_month_figures(*, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
                        service_ids: list[int] | None = None) -> dict:
    """Retrospective actions opened, shipped and overdue in [start, end), and incident patterns:
    counts by classification across teams, with an alert for each classification that recurs in
    at least RECURRING_TEAMS teams. Two queries."""
    cutoff = min(end, as_of)
    actions = RetroAction.objects.all()
    if service_ids is not None:
        actions = actions.filter(retrospective__service_id__in=service_ids)
    rows = list(actions.values("opened_at", "shipped_at", "due_date", "status"))
    opened = sum(1 for r in rows if start <= r["opened_at"] < end)
    shipped = sum(1 for r in rows if r["shipped_at"] is not None and start <= r["shipped_at"] < end)
    overdue = sum(1 for r in rows if r["opened_at"] < cutoff and r["due_date"] < cutoff.date()
                  and (r["shipped_at"] is None or r["shipped_at"] >= cutoff))
    incidents = Incident.objects.filter(started_at__gte=start, started_at__lt=end, classification__isnull=False)
    if service_ids is not None:
        incidents = incidents.filter(service_id__in=service_ids)
    teams: dict[str, set] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for name, team in incidents.values_list("classification__name", "service__owner_team__name"):
        counts[name] += 1
        teams[name].add(team)
    patterns = [{"classification": name, "incidents": counts[name], "teams": sorted(t for t in teams[name] if t)}
                for name in sorted(counts, key=lambda n: (-counts[n], n))]
    alerts = [f"{p['classification']} recurred in {len(p['teams'])} teams ({', '.join(p['teams'])}): "
              f"{p['incidents']} incidents" for p in patterns if len(p["teams"]) >= RECURRING_TEAMS]
    return {"actions_opened": opened, "actions_shipped": shipped, "actions_overdue": overdue,
            "incident_patterns": patterns, "recurring_alerts": alerts}
