"""Pipeline templates: the registry's writes, who may make them, and the gate rule
`releases.templates` that checks the template a pipeline run reported.

A version is proposed with the change that governs it and approved only once that change is
approved (the changes app decides, as for any policy); services adopt approved versions. The
gate then warns, or denies as the template's enforcement says, when a run used an unapproved,
deprecated or unknown version, another version than its service adopted, or none at all
(`pipeline_template_outdated`); and when the artifact lacks evidence kinds the version requires
(`pipeline_template_evidence_missing`, naming them)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.audit.history import atomic_as
from apps.audit.services import audit_event_record
from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest, ChangeState
from apps.changes.selectors import approval_basis, change_is_deployable
from apps.delivery.gate_rules import DENY, WARN, GateContext, GateRule, register_gate_rule
from apps.delivery.models import Evidence
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import (
    PipelineTemplate,
    PipelineTemplateVersion,
    TemplateAdoption,
    TemplateEnforcement,
    TemplateVersionStatus,
)

RULE_NAME = "releases.templates"
OUTDATED = "pipeline_template_outdated"
EVIDENCE_MISSING = "pipeline_template_evidence_missing"


# --- who may ---------------------------------------------------------------------------------

def can_manage_templates(user) -> bool:
    return bool(user.is_superuser or user.has_role("release_manager"))


def can_adopt(user, service: Service) -> bool:
    """The service's team (its members, its service accounts) or a release manager."""
    if can_manage_templates(user):
        return True
    if user.is_service_account:
        return user.owner_team_id == service.owner_team_id
    return user.memberships.filter(team_id=service.owner_team_id).exists()


def _user_of(actor: Any):
    from apps.audit.actor import resolve_actor

    return resolve_actor(actor).user


def _person(actor: Any):
    """The person or service account whose rights are checked; None for the portal's own tasks
    and commands (the demo), which act on no one's behalf."""
    from apps.audit.actor import resolve_actor

    resolved = resolve_actor(actor)
    return resolved.user if resolved.kind in ("user", "service_account") else None


# --- reads ----------------------------------------------------------------------------------

def templates_registry() -> QuerySet[PipelineTemplate]:
    """Every template with its versions, each with the services that adopted it (3 queries)."""
    from django.db.models import Prefetch

    versions = (PipelineTemplateVersion.objects.select_related("change")
                .prefetch_related(Prefetch("adoptions", queryset=TemplateAdoption.objects.select_related("service")
                                           .order_by("service__slug")))
                .order_by("-created_at", "-id"))
    return (PipelineTemplate.objects.select_related("owner_team")
            .prefetch_related(Prefetch("versions", queryset=versions)).order_by("slug"))


def template_version_get(*, slug: str, version: str) -> PipelineTemplateVersion | None:
    return (PipelineTemplateVersion.objects.select_related("template", "change")
            .filter(template__slug=slug, version=version).first())


# --- writes ---------------------------------------------------------------------------------

def _string_list(value: Any, field: str, *, allowed: set[str] | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise InvalidInput(f"{field} must be a list of names.", fields={field: ["a list of names"]})
    items = list(dict.fromkeys(item.strip() for item in value))
    if allowed is not None:
        unknown = sorted(set(items) - allowed)
        if unknown:
            raise InvalidInput(f"Unknown {field}: {', '.join(unknown)}.", fields={field: [f"unknown: {', '.join(unknown)}"]})
    return items


def template_create(*, slug: str, name: str, actor: Any, description: str = "", owner_team=None,
                    enforcement: str = TemplateEnforcement.DENY_IN_PRODUCTION) -> PipelineTemplate:
    person = _person(actor)
    if person is not None and not can_manage_templates(person):
        raise NotAllowed("Only release managers maintain the pipeline template registry.")
    if enforcement not in TemplateEnforcement.values:
        raise InvalidInput(f"Unknown enforcement {enforcement!r}.", fields={"enforcement": ["unknown"]})
    for field, value in (("slug", slug), ("name", name)):
        limit = PipelineTemplate._meta.get_field(field).max_length
        if len(value) > limit:
            raise InvalidInput(f"A template {field} is {limit} characters at most.",
                               fields={field: [f"At most {limit} characters."]})
    try:
        with atomic_as(actor):
            template = PipelineTemplate.objects.create(slug=slug, name=name, description=description,
                                                       owner_team=owner_team, enforcement=enforcement)
            audit_event_record(action="releases.template_created", target=template, actor=actor,
                               details={"slug": slug, "enforcement": enforcement})
    except IntegrityError:
        raise Conflict(f"A template {slug} exists already.", code="template_exists",
                       fields={"slug": ["already taken"]}) from None
    return template


def template_version_propose(*, template: PipelineTemplate, version: str, actor: Any,
                             change: ChangeRequest | None = None, required_stages: list | None = None,
                             required_evidence_kinds: list | None = None,
                             required_gate_calls: list | None = None) -> PipelineTemplateVersion:
    user, person = _user_of(actor), _person(actor)
    if person is not None and not can_manage_templates(person):
        raise NotAllowed("Only release managers maintain the pipeline template registry.")
    stages = _string_list(required_stages or [], "required_stages")
    kinds = _string_list(required_evidence_kinds or [], "required_evidence_kinds", allowed=set(Evidence.Kind.values))
    gate_calls = _string_list(required_gate_calls or [], "required_gate_calls",
                              allowed=set(Environment.objects.values_list("slug", flat=True)))
    try:
        with atomic_as(actor):
            row = PipelineTemplateVersion.objects.create(
                template=template, version=version, required_stages=stages, required_evidence_kinds=kinds,
                required_gate_calls=gate_calls, change=change, created_by=user)
            audit_event_record(action="releases.template_version_proposed", target=row, actor=actor, details={
                "template": template.slug, "version": version, "change": change.number if change else "",
                "required_stages": stages, "required_evidence_kinds": kinds, "required_gate_calls": gate_calls})
    except IntegrityError:
        raise Conflict(f"{template.slug} already has a version {version}.", code="template_version_exists",
                       fields={"version": ["already registered"]}) from None
    return row


def change_is_approved(change: ChangeRequest) -> bool:
    """Approved on its record: deployable now, or completed after its approvals."""
    if change_is_deployable(change):
        return True
    return change.state == ChangeState.COMPLETED and approval_basis(change) is not None


def template_version_approve(*, version: PipelineTemplateVersion, actor: Any) -> PipelineTemplateVersion:
    """A version is approved through its change, like any policy: no change, or a change not yet
    approved, and it stays proposed (409)."""
    person = _person(actor)
    if person is not None and not can_manage_templates(person):
        raise NotAllowed("Only release managers maintain the pipeline template registry.")
    with atomic_as(actor):
        locked = (PipelineTemplateVersion.objects.select_for_update(of=("self",))
                  .select_related("template", "change").get(pk=version.pk))
        if locked.status != TemplateVersionStatus.PROPOSED:
            raise Conflict(f"{locked} is {locked.status}; only a proposed version can be approved.",
                           code="invalid_transition", fields={"status": [locked.status]})
        if locked.change is None:
            raise Conflict(f"{locked} names no change; a template version is approved through a change.",
                           code="change_required", fields={"change": ["required to approve"]})
        if not change_is_approved(locked.change):
            raise Conflict(f"{locked.change.number} is not approved; {locked} stays proposed.",
                           code="change_not_approved", fields={"change": [f"{locked.change.number} is not approved"]})
        locked.status, locked.approved_at = TemplateVersionStatus.APPROVED, timezone.now()
        locked.save(update_fields=["status", "approved_at"])
        audit_event_record(action="releases.template_version_approved", target=locked, actor=actor, details={
            "template": locked.template.slug, "version": locked.version, "change": locked.change.number})
    return locked


def template_version_deprecate(*, version: PipelineTemplateVersion, actor: Any) -> PipelineTemplateVersion:
    person = _person(actor)
    if person is not None and not can_manage_templates(person):
        raise NotAllowed("Only release managers maintain the pipeline template registry.")
    with atomic_as(actor):
        locked = (PipelineTemplateVersion.objects.select_for_update(of=("self",)).select_related("template")
                  .get(pk=version.pk))
        if locked.status == TemplateVersionStatus.DEPRECATED:
            return locked
        before = locked.status
        locked.status, locked.deprecated_at = TemplateVersionStatus.DEPRECATED, timezone.now()
        locked.save(update_fields=["status", "deprecated_at"])
        audit_event_record(action="releases.template_version_deprecated", target=locked, actor=actor, details={
            "template": locked.template.slug, "version": locked.version, "from": before,
            "adopted_by": locked.adoptions.count()})
    return locked


def template_adopt(*, service: Service, version: PipelineTemplateVersion, actor: Any) -> TemplateAdoption:
    user, person = _user_of(actor), _person(actor)
    if person is not None and not can_adopt(person, service):
        raise NotAllowed(f"Only {service.slug}'s team or a release manager chooses its pipeline template.")
    if version.status != TemplateVersionStatus.APPROVED:
        raise Conflict(f"{version} is {version.status}; services adopt approved versions only.",
                       code="template_not_approved", fields={"version": [version.status]})
    with atomic_as(actor):
        adoption = TemplateAdoption.objects.select_for_update().filter(service=service).first()
        before = str(adoption.version) if adoption else ""
        if adoption is None:
            adoption = TemplateAdoption(service=service)
        adoption.version, adoption.adopted_by, adoption.adopted_at = version, user, timezone.now()
        adoption.save()
        audit_event_record(action="releases.template_adopted", target=adoption, actor=actor, details={
            "service": service.slug, "template": version.template.slug, "version": version.version,
            "previous": before})
    return adoption


# --- the gate rule --------------------------------------------------------------------------

def _severity(template: PipelineTemplate | None, environment) -> str:
    enforcement = template.enforcement if template is not None else TemplateEnforcement.DENY_IN_PRODUCTION
    if enforcement == TemplateEnforcement.DENY:
        return DENY
    if enforcement == TemplateEnforcement.DENY_IN_PRODUCTION and environment.is_production:
        return DENY
    return WARN


def templates_rule(context: GateContext):
    """One query: the service's adopted version and the reported one, with their templates (one more
    when the version requires logs or other files as evidence)."""
    slug, number = context.pipeline_template.strip(), context.pipeline_template_version.strip()
    wanted = Q(adoptions__service_id=context.service.pk)
    if slug:
        wanted |= Q(template__slug=slug, version=number)
    rows = list(PipelineTemplateVersion.objects.filter(wanted).select_related("template").annotate(
        adopted=Exists(TemplateAdoption.objects.filter(service_id=context.service.pk, version=OuterRef("pk"))))
        .distinct())
    adopted = next((row for row in rows if row.adopted), None)
    reported = next((row for row in rows if slug and row.template.slug == slug and row.version == number), None)
    if adopted is None and not slug:
        return []
    problems = []
    if not slug:
        problems.append(f"{context.service.slug} adopted {adopted}; the run reported no pipeline template")
    elif reported is None:
        problems.append(f"no pipeline template version {slug}@{number or '?'} is registered")
    else:
        if reported.status != TemplateVersionStatus.APPROVED:
            problems.append(f"{reported} is {reported.status}, not approved")
        if adopted is not None and adopted.pk != reported.pk:
            problems.append(f"{context.service.slug} adopted {adopted}, the run used {reported}")
    governing = adopted or reported
    reasons = []
    if problems:
        message = "Outdated pipeline template: " + "; ".join(problems) + "."
        reasons.append((OUTDATED, _severity(governing.template if governing else None, context.environment), message))
    # What the template requires, not only which version ran: the evidence kinds of the version the
    # run used (or, when it named none, the one its service adopted).
    required = reported or adopted
    missing = _missing_evidence(required, context)
    if missing:
        reasons.append((EVIDENCE_MISSING, _severity(required.template, context.environment),
                        f"{required} requires evidence the artifact does not have: {', '.join(missing)}."))
    return reasons


def _missing_evidence(version: PipelineTemplateVersion | None, context: GateContext) -> list[str]:
    """The evidence kinds `version` requires that the deployed artifact has none of. The gate's
    facts leave logs and other files out; those two kinds cost one query when required."""
    if version is None or not version.required_evidence_kinds:
        return []
    present = {row["kind"] for row in context.evidence}
    unread = [k for k in version.required_evidence_kinds if k in (Evidence.Kind.LOG, Evidence.Kind.OTHER)]
    if unread and context.artifact is not None:
        present |= set(Evidence.objects.filter(artifact_id=context.artifact.pk, kind__in=unread)
                       .values_list("kind", flat=True).distinct())
    return [kind for kind in version.required_evidence_kinds if kind not in present]


def register_templates_rule() -> None:
    # An emergency fix may ship from an older pipeline: the override may waive it.
    register_gate_rule(GateRule(name=RULE_NAME, codes={OUTDATED: True, EVIDENCE_MISSING: True}, check=templates_rule,
                                order=200))

