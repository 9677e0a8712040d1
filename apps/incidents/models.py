from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class IncidentClassification(models.Model):
    """The taxonomy, managed in the admin (code defect, configuration error, ...)."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    is_release_related = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 — critical"
        SEV2 = "sev2", "SEV2 — major"
        SEV3 = "sev3", "SEV3 — minor"
        SEV4 = "sev4", "SEV4 — low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MITIGATED = "mitigated", "Mitigated"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    classification = models.ForeignKey(IncidentClassification, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="incidents")
    commander = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="incidents_commanded")
    started_at = models.DateTimeField()
    detected_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Explicit link (METRICS.md); the inferred link is computed, and can be overridden by the
    # incidents app with a reason.
    caused_by_deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                             related_name="incidents_caused")
    # Link override (apps.incidents.linking): "no deployment caused this", with who, when and why.
    # An override *to* a deployment sets caused_by_deployment and records the reason here too.
    link_suppressed = models.BooleanField(default=False)
    link_override_reason = models.TextField(blank=True)
    link_overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    link_overridden_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["service", "started_at"], name="incident_svc_started_idx")]

    def __str__(self) -> str:
        return f"INC-{self.pk} {self.title}"
