"""Standard change templates: proposed, approved by someone else, versioned, retired."""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import StandardChangeTemplate

TEMPLATE_APPROVER_ROLES = ("release_manager", "cab_member")


def template_propose(*, actor: Any, slug: str, name: str, description: str = "", service=None,
                     rollout_strategy: str = "rolling", rollback_plan: str = "") -> StandardChangeTemplate:
    """A new template, or the next version of an existing one (the approved version stays in use
    until the new one is approved)."""
    resolved = resolve_actor(actor)
    if not slug or not name:
        raise InvalidInput("A template needs a slug and a name.", fields={"slug": ["Required."], "name": ["Required."]})
    if not (description or "").strip():
        raise InvalidInput("Describe the pre-approved procedure.", fields={"description": ["Required."]})
    with atomic_as(resolved):
        latest = StandardChangeTemplate.objects.filter(slug=slug).aggregate(v=Max("version"))["v"] or 0
        if StandardChangeTemplate.objects.filter(slug=slug, state=StandardChangeTemplate.State.PROPOSED).exists():
            raise Conflict(f"Template '{slug}' already has a proposed version waiting for approval.",
                           code="proposal_pending")
        template = StandardChangeTemplate(slug=slug, version=latest + 1, name=name, description=description,
                                          service=service, rollout_strategy=rollout_strategy,
                                          rollback_plan=rollback_plan, proposed_by=resolved.user)
        history_stamp(template, resolved)
        template.save()
        audit_event_record(action="change_types.template.proposed", target=template, actor=resolved,
                           details={"slug": slug, "version": template.version})
    return template


def template_approve(*, template: StandardChangeTemplate, actor: Any) -> StandardChangeTemplate:
    resolved = resolve_actor(actor)
    user = resolved.user
    if not user.has_role(*TEMPLATE_APPROVER_ROLES) or user.is_service_account:
        raise NotAllowed("Release managers and CAB members approve standard change templates.", code="not_an_approver")
    if user.pk == template.proposed_by_id:
        raise NotAllowed("You proposed this template; someone else must approve it.", code="self_approval_forbidden")
    with atomic_as(resolved):
        locked = StandardChangeTemplate.objects.select_for_update().get(pk=template.pk)
        if locked.state != StandardChangeTemplate.State.PROPOSED:
            raise Conflict(f"This template version is {locked.state}, not proposed.", code="invalid_transition")
        superseded = StandardChangeTemplate.objects.filter(slug=locked.slug, state=StandardChangeTemplate.State.APPROVED)
        for old in superseded:
            old.state = StandardChangeTemplate.State.SUPERSEDED
            history_stamp(old, resolved)
            old.save()
        locked.state = StandardChangeTemplate.State.APPROVED
        locked.approved_by = user
        locked.approved_at = timezone.now()
        history_stamp(locked, resolved)
        locked.save()
        audit_event_record(action="change_types.template.approved", target=locked, actor=resolved,
                           details={"slug": locked.slug, "version": locked.version})
    return locked


def template_retire(*, template: StandardChangeTemplate, actor: Any, reason: str) -> StandardChangeTemplate:
    resolved = resolve_actor(actor)
    if not resolved.user.has_role(*TEMPLATE_APPROVER_ROLES):
        raise NotAllowed("Release managers and CAB members retire standard change templates.", code="not_an_approver")
    if not (reason or "").strip():
        raise InvalidInput("Say why the template is retired.", fields={"reason": ["Required."]})
    with atomic_as(resolved):
        locked = StandardChangeTemplate.objects.select_for_update().get(pk=template.pk)
        if locked.state in (StandardChangeTemplate.State.RETIRED, StandardChangeTemplate.State.SUPERSEDED):
            raise Conflict(f"This template version is already {locked.state}.", code="invalid_transition")
        locked.state = StandardChangeTemplate.State.RETIRED
        locked.retired_at = timezone.now()
        locked.retired_reason = reason.strip()[:200]
        history_stamp(locked, resolved)
        locked.save()
        audit_event_record(action="change_types.template.retired", target=locked, actor=resolved,
                           details={"slug": locked.slug, "version": locked.version, "reason": reason})
    return locked
