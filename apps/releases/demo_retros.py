"""Demo retrospectives: the last production rollback's retrospective, whose action produced the
gate rule `releases.dependencies` (shipped: the rule is live), plus the retrospective of a shipped
release with a user issue filed by support when one exists. Idempotent: run twice, same rows.
Called from the releases demo (demo.py) after the releases exist."""

from __future__ import annotations

from datetime import timedelta

from apps.audit.actor import Actor
from apps.delivery.models import Deployment

from . import retros
from .models import Release, ReleaseState, RetroAction, Retrospective, UserIssue


def seed_retros(ctx) -> None:
    actor = Actor.for_command("seed_demo")
    owner = ctx.users.get("heidi") or ctx.users.get("admin")
    if owner is None:
        return
    rollback = (Deployment.objects.select_related("service", "environment")
                .filter(kind=Deployment.Kind.ROLLBACK, environment__is_production=True)
                .order_by("-started_at", "-id").first())
    if rollback is not None:
        retro = Retrospective.objects.filter(deployment=rollback).first() or retros.retrospective_open(
            kind=Retrospective.Kind.ROLLBACK, deployment=rollback, actor=actor,
            summary="A service shipped before the schema it needed had reached production.")
        if not retro.actions.exists():
            action = retros.retro_action_add(
                retrospective=retro, title="Refuse a deployment whose release dependencies have not shipped",
                type=RetroAction.Type.NEW_CHECK, owner=owner, due_date=(ctx.now + timedelta(days=14)).date(),
                link_kind=RetroAction.LinkKind.GATE_RULE, link_ref="releases.dependencies", actor=actor)
            retros.retro_action_close(action=action, actor=actor)
            retros.retro_action_add(
                retrospective=retro, title="Alert on error rate within five minutes of a rollback",
                type=RetroAction.Type.MONITORING_COVERAGE, owner=owner, due_date=(ctx.now - timedelta(days=3)).date(),
                link_kind=RetroAction.LinkKind.HEALTH_CHECK,
                link_ref=f"{rollback.service.slug}/{rollback.environment.slug}:error_rate_pct", actor=actor)
    shipped = Release.objects.filter(state=ReleaseState.RELEASED).order_by("-released_at", "-id").first()
    if shipped is not None:
        if not Retrospective.objects.filter(release=shipped).exists():
            retros.retrospective_open(kind=Retrospective.Kind.RELEASE, release=shipped, actor=actor)
        if not UserIssue.objects.filter(release=shipped).exists():
            retros.user_issue_file(release=shipped, title="Customers see an empty order history after login",
                                   channel=UserIssue.Channel.SUPPORT, impact=UserIssue.Impact.HIGH,
                                   customer_reference="SUP-4821", actor=actor)
    ctx.say(f"retrospectives: {Retrospective.objects.count()}, actions: {RetroAction.objects.count()}")
