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


class ReportJob(models.Model):
    """The monthly schedule's run for one month (tasks.generate_monthly_reports), so its state is
    visible on the reports page: running, done, or failed with the reason. A run whose worker
    died is dispatched again by the reaper (reaper.py) and failed with a reason after its last
    attempt. Reports themselves are the ReportRun rows it makes."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    period = models.CharField(max_length=7, unique=True, help_text="YYYY-MM in the report timezone")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    # Why the last attempt did not finish ("worker lost…", or the error of the last retry).
    error = models.CharField(max_length=300, blank=True, default="")

    history = governed_history()

    class Meta:
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"monthly reports {self.period}: {self.status}"


class ReportDelivery(models.Model):
    """A report emailed to its readers, once: a retried task sees the row and sends nothing."""

    run = models.OneToOneField(ReportRun, on_delete=models.PROTECT, related_name="delivery")
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.run} → {len(self.recipients)} recipients"


class MetricSnapshot(models.Model):
    """The figures of one closed month for the organisation, a team or a service: a cache of
    what dora.aggregate computes from the other apps' rows, so a page or API call reads twelve
    months instead of recomputing the whole history.

    Derived data, not a record of anyone's decision: rows are written by the engine and dropped
    when late data lands in their month (snapshots.sweep), never edited by people, so they carry
    no history or audit trail of their own. Tiers are not stored: they depend on the benchmark
    year and are derived from the figures when read."""

    level = models.CharField(max_length=12)  # organisation | team | service
    group_id = models.BigIntegerField()  # team or service id; 0 for the organisation
    period = models.CharField(max_length=7, help_text="YYYY-MM in the report timezone")
    tz_name = models.CharField(max_length=64)  # the report timezone the month is taken in
    period_end = models.DateTimeField(help_text="First instant after the month; late data before it drops the row")
    figures = models.JSONField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tz_name", "level", "group_id", "period"], name="metric_snapshot_unique"),
        ]
        indexes = [models.Index(fields=["level", "group_id", "period_end"], name="metric_snapshot_group_end_idx")]

    def __str__(self) -> str:
        return f"{self.level}:{self.group_id} {self.period} ({self.tz_name})"


class SnapshotWatermark(models.Model):
    """How far the history tables of deployments, incidents, changes and the catalog have been
    examined for data that changes a closed month (one row, name "history")."""

    name = models.CharField(max_length=30, primary_key=True)
    marks = models.JSONField(default=dict)  # history table -> last history_id examined
    swept_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.marks}"
