"""Demo pipeline templates: a container pipeline with a deprecated, an approved and a proposed
version (approved through a completed change of the demo), adopted by a few services. Its
enforcement is `warn`, so the demo's own pipelines are told, not stopped. Idempotent."""

from __future__ import annotations

from apps.audit.actor import Actor
from apps.changes.models import ChangeRequest, ChangeState

from . import templates_services as templates
from .models import PipelineTemplate, PipelineTemplateVersion, TemplateAdoption, TemplateVersionStatus

ADOPTERS = ("payments-api", "checkout", "ledger")
VERSIONS = (
    ("1.4", ["build", "unit-test", "scan"], ["junit", "sarif"], ["prod"]),
    ("2.0", ["build", "unit-test", "scan", "sbom", "sign"], ["junit", "sarif", "cyclonedx"], ["staging", "prod"]),
    ("2.1", ["build", "unit-test", "scan", "sbom", "sign", "provenance"],
     ["junit", "sarif", "cyclonedx", "slsa_provenance"], ["staging", "prod"]),
)


def _approved_change() -> ChangeRequest | None:
    """A change of the demo approved on its record (completed after its approvals, or approved and
    waiting for its slot), to govern the approved versions. The demo's older history is imported
    without live approval rows, so recent approved changes are looked at too."""
    candidates = [*ChangeRequest.objects.filter(state=ChangeState.COMPLETED).order_by("-closed_at", "-pk")[:50],
                  *ChangeRequest.objects.filter(state__in=[ChangeState.APPROVED, ChangeState.SCHEDULED])
                  .order_by("-pk")[:50]]
    for change in candidates:
        if templates.change_is_approved(change):
            return change
    return None


def seed_templates(ctx) -> None:
    actor = Actor.for_command("seed_demo")
    template = PipelineTemplate.objects.filter(slug="container-service").first() or templates.template_create(
        slug="container-service", name="Container service pipeline", enforcement="warn", actor=actor,
        description="Build, test, scan, SBOM, sign and promote an OCI image through staging to production.")
    change = _approved_change()
    for number, stages, kinds, gate_calls in VERSIONS:
        if template.versions.filter(version=number).exists():
            continue
        version = templates.template_version_propose(
            template=template, version=number, change=change if number != "2.1" else None, actor=actor,
            required_stages=stages, required_evidence_kinds=kinds, required_gate_calls=gate_calls)
        if number != "2.1" and change is not None:
            version = templates.template_version_approve(version=version, actor=actor)
        if number == "1.4" and version.status == TemplateVersionStatus.APPROVED:
            templates.template_version_deprecate(version=version, actor=actor)
    current = PipelineTemplateVersion.objects.filter(template=template, version="2.0",
                                                     status=TemplateVersionStatus.APPROVED).first()
    if current is not None:
        for slug in ADOPTERS:
            service = ctx.services.get(slug)
            if service is not None and not TemplateAdoption.objects.filter(service=service).exists():
                templates.template_adopt(service=service, version=current, actor=actor)
    ctx.say(f"pipeline templates: {PipelineTemplateVersion.objects.count()} versions, "
            f"{TemplateAdoption.objects.count()} adoptions")
