"""The pipeline template registry pages: every template with its versions and their adopters, and
the forms to register a template, propose a version (governed by a change, as over the API),
approve it once that change is approved, and let a service adopt an approved version. Every POST
goes to the same service function as the API, with the same guards; a refusal comes back as a
message on the page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import slug_re
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Team
from apps.accounts.permissions import member_required
from apps.catalog.models import Environment, Service
from apps.delivery.models import Evidence
from apps.delivery.selectors import change_by_ref
from releaseportal.errors import InvalidInput, PortalError

from . import templates_services as services
from .models import PipelineTemplate, TemplateEnforcement, TemplateVersionStatus


def _adoptable_services(user) -> list[Service]:
    """The services whose pipeline template `user` may choose (services.can_adopt): all of them
    for a release manager, their team's otherwise."""
    if services.can_manage_templates(user):
        return list(Service.objects.filter(is_active=True).order_by("slug").only("pk", "slug"))
    if user.is_service_account:
        return list(Service.objects.filter(owner_team_id=user.owner_team_id, is_active=True).order_by("slug")
                    .only("pk", "slug"))
    return list(Service.objects.filter(owner_team__memberships__user=user, is_active=True).distinct()
                .order_by("slug").only("pk", "slug"))


@member_required
def template_registry(request):
    if request.method == "POST":
        return _template_create(request)
    manager = services.can_manage_templates(request.user)
    return render(request, "releases/templates_registry.html", {
        "templates": services.templates_registry(), "manager": manager,
        "adoptable": _adoptable_services(request.user),
        "enforcements": TemplateEnforcement.choices, "approved": TemplateVersionStatus.APPROVED,
        "teams": list(Team.objects.order_by("name").only("pk", "slug", "name")) if manager else [],
        "evidence_kinds": Evidence.Kind.choices,
        "environments": list(Environment.objects.order_by("order").only("pk", "slug")) if manager else []})


def _template_create(request):
    if not services.can_manage_templates(request.user):
        raise PermissionDenied("Only release managers maintain the pipeline template registry.")
    post = request.POST
    try:
        team = None
        if post.get("owner_team"):
            team = Team.objects.filter(slug=post["owner_team"]).first()
            if team is None:  # registering it ownerless instead would hide the typo
                raise InvalidInput(f"No team {post['owner_team']}.", fields={"owner_team": ["Unknown team."]})
        slug, name = post.get("slug", "").strip(), post.get("name", "").strip()
        if not slug or not name:
            raise InvalidInput("A template needs a slug and a name.", fields={"slug": ["Required."]})
        if len(slug) > 60 or not slug_re.fullmatch(slug):
            raise InvalidInput("A slug is letters, digits, - and _ (60 at most).", fields={"slug": ["Not a slug."]})
        template = services.template_create(slug=slug, name=name, actor=request.user, owner_team=team,
                                            description=post.get("description", ""),
                                            enforcement=post.get("enforcement") or TemplateEnforcement.DENY_IN_PRODUCTION)
        messages.success(request, f"Template {template.slug} registered.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:templates")


def _template(slug: str) -> PipelineTemplate:
    template = PipelineTemplate.objects.filter(slug=slug).first()
    if template is None:
        raise Http404
    return template


def _names(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]


@member_required
@require_POST
def template_version_propose(request, slug: str):
    template = _template(slug)
    if not services.can_manage_templates(request.user):
        raise PermissionDenied("Only release managers maintain the pipeline template registry.")
    post = request.POST
    try:
        ref = post.get("change", "").strip()
        change = change_by_ref(ref) if ref else None
        if ref and change is None:
            raise InvalidInput(f"No change request {ref}.", fields={"change": ["unknown change"]})
        number = post.get("version", "").strip()[:40]
        if not number:
            raise InvalidInput("A version needs a number.", fields={"version": ["Required."]})
        version = services.template_version_propose(
            template=template, version=number, change=change, actor=request.user,
            required_stages=_names(post.get("required_stages", "")),
            required_evidence_kinds=post.getlist("required_evidence_kinds"),
            required_gate_calls=post.getlist("required_gate_calls"))
        messages.success(request, f"{version} proposed; it is approved once {change.number if change else 'its change'}"
                                  " is.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:templates")


def _version_move(request, slug: str, version: str, move, done: str):
    """Approve or deprecate a version: release managers only, the service decides the rest."""
    row = services.template_version_get(slug=slug, version=version)
    if row is None:
        raise Http404
    if not services.can_manage_templates(request.user):
        raise PermissionDenied("Only release managers maintain the pipeline template registry.")
    try:
        move(version=row, actor=request.user)
        messages.success(request, f"{row} {done}")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:templates")


@member_required
@require_POST
def template_version_approve(request, slug: str, version: str):
    return _version_move(request, slug, version, services.template_version_approve, "approved.")


@member_required
@require_POST
def template_version_deprecate(request, slug: str, version: str):
    """Retire a version: the gate then treats runs that report it as outdated (the template's
    enforcement decides whether that warns or refuses)."""
    return _version_move(request, slug, version, services.template_version_deprecate,
                         "deprecated: runs that report it are now outdated.")


@member_required
@require_POST
def template_adopt(request, slug: str, version: str):
    row = services.template_version_get(slug=slug, version=version)
    if row is None:
        raise Http404
    service = Service.objects.filter(slug=request.POST.get("service", "")).first()
    if service is None:
        raise Http404
    if not services.can_adopt(request.user, service):
        raise PermissionDenied(f"Only {service.slug}'s team or a release manager chooses its pipeline template.")
    try:
        services.template_adopt(service=service, version=row, actor=request.user)
        messages.success(request, f"{service.slug} now runs {row}.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:templates")
