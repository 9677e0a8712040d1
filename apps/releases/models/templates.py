"""Pipeline templates: a registry of shared pipeline definitions with versions, approved through
a change like any policy, adopted by services, and checked by the gate (rule releases.templates)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class TemplateEnforcement(models.TextChoices):
    WARN = "warn", "Warn everywhere"
    DENY_IN_PRODUCTION = "deny_in_production", "Deny in production, warn elsewhere"
    DENY = "deny", "Deny everywhere"


class PipelineTemplate(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="pipeline_templates")
    # What the gate does when a run used an unapproved or outdated version of this template.
    enforcement = models.CharField(max_length=20, choices=TemplateEnforcement.choices,
                                   default=TemplateEnforcement.DENY_IN_PRODUCTION)
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class TemplateVersionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"


class PipelineTemplateVersion(models.Model):
    template = models.ForeignKey(PipelineTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=40)
    required_stages = models.JSONField(default=list, blank=True, help_text='e.g. ["build", "test", "scan"]')
    required_evidence_kinds = models.JSONField(default=list, blank=True, help_text='e.g. ["junit", "sarif"]')
    required_gate_calls = models.JSONField(default=list, blank=True,
                                           help_text='Environments the pipeline must ask the gate for, e.g. ["prod"]')
    status = models.CharField(max_length=10, choices=TemplateVersionStatus.choices,
                              default=TemplateVersionStatus.PROPOSED)
    # The change that governs this version: it is approved once that change is.
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    deprecated_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["template__slug", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="template_version_unique")]

    def __str__(self) -> str:
        return f"{self.template.slug}@{self.version}"


class TemplateAdoption(models.Model):
    """The template version a service's pipeline is meant to run (one per service)."""

    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="template_adoption")
    version = models.ForeignKey(PipelineTemplateVersion, on_delete=models.PROTECT, related_name="adoptions")
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    adopted_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"{self.service.slug} runs {self.version}"
