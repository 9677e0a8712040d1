"""Smoke tests and synthetic transactions run against a deployment."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class CheckRun(models.Model):
    class Kind(models.TextChoices):
        SMOKE = "smoke", "Smoke tests"
        SYNTHETIC = "synthetic", "Synthetic transactions"

    class Source(models.TextChoices):
        JUNIT = "junit", "JUnit XML"
        JSON = "json", "JSON"

    deployment = models.ForeignKey("delivery.Deployment", on_delete=models.CASCADE, related_name="check_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=5, choices=Source.choices)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # SHA-256 of the uploaded document (JUnit) or of the canonical JSON body.
    sha256 = models.CharField(max_length=64, blank=True)
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "kind", "created_at"], name="checkrun_dep_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.passed}/{self.total} for deployment {self.deployment_id}"

    @property
    def succeeded(self) -> bool:
        return self.failed == 0 and self.total > 0


class CheckResult(models.Model):
    class Status(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="results")
    name = models.CharField(max_length=300)
    status = models.CharField(max_length=7, choices=Status.choices)
    duration_ms = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"
