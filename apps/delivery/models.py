from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history

digest_validator = RegexValidator(r"^sha256:[0-9a-f]{64}$", "A digest reads sha256:<64 lowercase hex>.")


class Artifact(models.Model):
    class Format(models.TextChoices):
        OCI_IMAGE = "oci_image", "OCI image"
        RPM = "rpm", "RPM"
        DEB = "deb", "Debian package"
        JAR = "jar", "JAR"
        NPM = "npm", "npm package"
        WHEEL = "wheel", "Python wheel"
        ZIP = "zip", "ZIP"

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="artifacts")
    version = models.CharField(max_length=128)
    digest = models.CharField(max_length=71, validators=[digest_validator], db_index=True)
    git_sha = models.CharField(max_length=40, blank=True)
    pipeline_id = models.CharField(max_length=100, blank=True)
    build_id = models.CharField(max_length=100, blank=True)
    format = models.CharField(max_length=12, choices=Format.choices)
    signature = models.TextField(blank=True, help_text="Base64 signature over the digest")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["service", "version"], name="artifact_version_immutable"),
            models.UniqueConstraint(fields=["service", "digest"], name="artifact_digest_per_service"),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug}@{self.version}"


class Deployment(models.Model):
    class Status(models.TextChoices):
        STARTED = "started", "Started"
        IN_PROGRESS = "in_progress", "In progress"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    class Kind(models.TextChoices):
        NORMAL = "normal", "Normal"
        HOTFIX = "hotfix", "Hotfix"
        ROLLBACK = "rollback", "Rollback"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK)

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="deployments")
    artifact = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="deployments")
    version = models.CharField(max_length=128, blank=True)
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="deployments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STARTED)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NORMAL)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    pipeline_url = models.URLField(max_length=500, blank=True)
    rollback_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="rollbacks")
    # A production deployment with no preceding gate `allow` for its change (recorded, flagged).
    is_unauthorized = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["environment", "finished_at"], name="deploy_env_finished_idx"),
            models.Index(fields=["service", "environment", "finished_at"], name="deploy_svc_env_finished_idx"),
            models.Index(fields=["change"], name="deploy_change_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug} {self.version or '?'} → {self.environment.slug} ({self.status})"


class DeploymentCommit(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=40, db_index=True)
    authored_at = models.DateTimeField()
    message = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "sha"], name="unique_commit_per_deployment")]
