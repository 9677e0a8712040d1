from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class ReportRun(models.Model):
    """One generated monthly report, kept as it was made: its parameters, its files and their
    SHA-256. Regenerating makes a new version; a row is never updated."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Generated in the portal"
        SCHEDULE = "schedule", "Monthly schedule"
        COMMAND = "command", "Command line"

    period = models.CharField(max_length=7, help_text="YYYY-MM in the report timezone")
    scope_type = models.CharField(max_length=20)  # organisation | team | service
    scope_slug = models.CharField(max_length=60, blank=True, default="")
    scope_key = models.CharField(max_length=90, db_index=True)  # "organisation", "team:payments"
    scope_name = models.CharField(max_length=120, blank=True, default="")
    version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    # Scheduled runs carry "schedule:<period>:<scope>": a retried task finds the run it made.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    parameters = models.JSONField(default=dict)
    summary = models.JSONField(default=dict, help_text="The headline figures (the API body)")
    pdf = models.FileField(max_length=300)
    csv_zip = models.FileField(max_length=300)
    pdf_sha256 = models.CharField(max_length=64)
    csv_sha256 = models.CharField(max_length=64)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    generated_by_label = models.CharField(max_length=150)
    generated_at = models.DateTimeField(default=timezone.now)
    data_as_of = models.DateTimeField()
    render_seconds = models.FloatField(default=0)

    history = governed_history()

    class Meta:
        ordering = ["-period", "scope_key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["scope_key", "period", "version"], name="report_run_version_unique"),
        ]

    def __str__(self) -> str:
        return f"DORA {self.period} {self.scope_key} v{self.version}"

    def save(self, *args, **kwargs):
        # Stored reports are evidence: once written they are never changed.
        if not self._state.adding:
            raise ValueError("A ReportRun is immutable; generate a new version instead.")
        super().save(*args, **kwargs)

    @property
    def file_stem(self) -> str:
        scope = self.scope_slug or "organisation"
        return f"dora-{self.period}-{scope}-v{self.version}"


class ReportDelivery(models.Model):
    """A report emailed to its readers, once: a retried task sees the row and sends nothing."""

    run = models.OneToOneField(ReportRun, on_delete=models.PROTECT, related_name="delivery")
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.run} → {len(self.recipients)} recipients"
