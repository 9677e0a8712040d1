"""Schema migrations per service and environment (Flyway / Liquibase schema history, as the
pipelines report it), and the refused reports of an applied version with another checksum."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class MigrationTool(models.TextChoices):
    FLYWAY = "flyway", "Flyway"
    LIQUIBASE = "liquibase", "Liquibase"
    DJANGO = "django", "Django"
    ALEMBIC = "alembic", "Alembic"
    RAILS = "rails", "Rails"
    GOLANG_MIGRATE = "golang-migrate", "golang-migrate"
    OTHER = "other", "Other"


class AppliedMigration(models.Model):
    """One outcome of one migration version (with its checksum) in one environment. A retry
    after a failure adds the success row; the same report again adds nothing."""

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="applied_migrations")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT,
                                    related_name="applied_migrations")
    tool = models.CharField(max_length=16, choices=MigrationTool.choices)
    version = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    checksum = models.CharField(max_length=128)
    status = models.CharField(max_length=7, choices=Status.choices)
    applied_at = models.DateTimeField()
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["service", "environment", "applied_at", "id"]
        indexes = [models.Index(fields=["service", "environment", "version"], name="applied_mig_lookup_idx")]
        constraints = [
            # The same report twice, or two at once, is one row.
            models.UniqueConstraint(fields=["service", "environment", "version", "checksum", "status"],
                                    name="applied_migration_once"),
            # An applied version has one checksum: a second script under that version is refused.
            models.UniqueConstraint(fields=["service", "environment", "version"],
                                    condition=models.Q(status="success"), name="applied_migration_one_checksum"),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.status} in {self.environment_id}"


class MigrationMismatch(models.Model):
    """A report that an applied version ran with another checksum (the script was edited after
    it ran). The report itself is refused; this finding keeps it, once per checksum."""

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="migration_mismatches")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT,
                                    related_name="migration_mismatches")
    tool = models.CharField(max_length=16, choices=MigrationTool.choices)
    version = models.CharField(max_length=100)
    applied_checksum = models.CharField(max_length=128)
    reported_checksum = models.CharField(max_length=128)
    reported_status = models.CharField(max_length=7, choices=AppliedMigration.Status.choices)
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "version", "reported_checksum"],
                                    name="migration_mismatch_once"),
        ]

    def __str__(self) -> str:
        return f"{self.version}: {self.reported_checksum[:12]} ≠ {self.applied_checksum[:12]}"
