from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.audit.encryption import EncryptedTextField
from apps.audit.history import governed_history

digest_validator = RegexValidator(r"^sha256:[0-9a-f]{64}$", "A digest reads sha256:<64 lowercase hex>.")


class SignatureStatus(models.TextChoices):
    UNSIGNED = "unsigned", "Unsigned"
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"


class SigningKey(models.Model):
    """A team's public key; artifacts of the team's services are signed over their digest."""

    class Algorithm(models.TextChoices):
        ED25519 = "ed25519", "Ed25519"
        ECDSA_P256 = "ecdsa_p256", "ECDSA P-256"

    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="signing_keys")
    name = models.CharField(max_length=100)
    algorithm = models.CharField(max_length=12, choices=Algorithm.choices)
    public_key_pem = models.TextField()
    fingerprint = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the DER public key")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["team__slug", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_algorithm_display()}, {self.fingerprint[:12]})"


class VersionPolicy(models.Model):
    """How a service's versions must look, e.g. `{semver}+{git_sha:7}.{pipeline_id}`."""

    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="version_policy")
    pattern = models.CharField(max_length=200)
    history = governed_history()

    class Meta:
        verbose_name_plural = "version policies"

    def __str__(self) -> str:
        return f"{self.service.slug}: {self.pattern}"


class EnvironmentPolicy(models.Model):
    """What the gate demands before an artifact may enter an environment."""

    environment = models.OneToOneField("catalog.Environment", on_delete=models.CASCADE, related_name="delivery_policy")
    require_signature = models.BooleanField(default=False)
    tests_must_pass = models.BooleanField(default=False)
    provenance_required = models.BooleanField(default=False)
    # None means no limit; counts are of unsuppressed findings.
    max_critical = models.PositiveIntegerField(null=True, blank=True)
    max_high = models.PositiveIntegerField(null=True, blank=True)
    license_deny = models.JSONField(default=list, blank=True, help_text='SPDX ids, e.g. ["AGPL-3.0-only"]')
    license_allow = models.JSONField(default=list, blank=True, help_text="Empty: every licence not denied is allowed")
    # Production: the artifact must have reached the previous environment within this many days.
    promotion_max_age_days = models.PositiveIntegerField(null=True, blank=True)
    lock_timeout_minutes = models.PositiveIntegerField(default=60)
    # Packaging formats this environment accepts (Artifact.Format values); empty: every format.
    allowed_formats = models.JSONField(default=list, blank=True, help_text='e.g. ["oci_image", "rpm"]; empty: any')
    history = governed_history()

    class Meta:
        verbose_name_plural = "environment policies"

    def __str__(self) -> str:
        return f"Policy for {self.environment.slug}"

    def clean(self) -> None:
        check_formats(self.allowed_formats)


def check_formats(value) -> None:
    """A list of known packaging formats, or a ValidationError naming the unknown ones."""
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError({"allowed_formats": "A list of format names."})
    unknown = sorted(set(value) - set(Artifact.Format.values))
    if unknown:
        raise ValidationError({"allowed_formats": f"Unknown formats: {', '.join(unknown)}."})


class ArtifactStandard(models.Model):
    """The organisation's packaging standard: the formats an artifact may be registered in at all.
    One row (the portal serves one organisation); none, or an empty list, allows every format.
    Environments narrow it further (EnvironmentPolicy.allowed_formats), enforced by the gate."""

    name = models.CharField(max_length=100, default="Organisation", unique=True)
    allowed_formats = models.JSONField(default=list, blank=True, help_text='e.g. ["oci_image", "rpm", "jar"]')
    history = governed_history()

    def __str__(self) -> str:
        return f"Artifact standard: {', '.join(self.allowed_formats) or 'any format'}"

    def clean(self) -> None:
        check_formats(self.allowed_formats)


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
    # Verified once, at upload, against the owning team's registered keys.
    signature_status = models.CharField(max_length=10, choices=SignatureStatus.choices, default=SignatureStatus.UNSIGNED)
    signing_key = models.ForeignKey("SigningKey", null=True, blank=True, on_delete=models.PROTECT, related_name="artifacts")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes in the artifact repository, if known")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["service", "created_at"], name="artifact_svc_created_idx")]
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
    # As the pipeline reported them; plain values (the templates live in the releases app above).
    pipeline_template = models.CharField(max_length=60, blank=True, default="")
    pipeline_template_version = models.CharField(max_length=40, blank=True, default="")
    rollback_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="rollbacks")
    # A production deployment that consumed no gate `allow` of its own: none for its service,
    # environment, artifact and change held the slot's lock unused (recorded all the same, flagged).
    is_unauthorized = models.BooleanField(default=False)
    # The allow this deployment consumed; one allow authorises one deployment (constraint below).
    gate_decision = models.ForeignKey("GateDecision", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="deployments")
    # Provider id for deployments reported by webhooks ("github:123", "gitlab:45").
    external_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["environment", "finished_at"], name="deploy_env_finished_idx"),
            models.Index(fields=["service", "environment", "finished_at"], name="deploy_svc_env_finished_idx"),
            models.Index(fields=["change"], name="deploy_change_idx"),
            # Only the running ones: the gate's "is the slot busy?" reads a handful of rows, not the
            # slot's whole history.
            models.Index(fields=["service", "environment", "started_at"], name="deploy_running_idx",
                         condition=models.Q(status__in=["started", "in_progress"])),
        ]
        constraints = [
            # The database holds "one gate allow, one deployment", whatever races past the service.
            models.UniqueConstraint(fields=["gate_decision"], condition=models.Q(gate_decision__isnull=False),
                                    name="one_deployment_per_gate_decision"),
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

    def __str__(self) -> str:
        return self.sha[:12]


class Evidence(models.Model):
    """A document bound to an artifact digest: parsed summary kept, original stored as a file."""

    class Kind(models.TextChoices):
        JUNIT = "junit", "JUnit test results"
        SARIF = "sarif", "SARIF scan"
        CYCLONEDX = "cyclonedx", "CycloneDX SBOM"
        SPDX = "spdx", "SPDX SBOM"
        SLSA_PROVENANCE = "slsa_provenance", "SLSA provenance"
        MIGRATIONS = "migrations", "Schema migrations declared"
        LOG = "log", "Log"
        OTHER = "other", "Other"

    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    summary = models.JSONField(default=dict, blank=True)
    document = models.FileField(upload_to="evidence/%Y/%m/", blank=True)
    filename = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["artifact", "kind"], name="evidence_artifact_kind_idx")]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.artifact_id}"


class GateDecision(models.Model):
    """Every answer the gate gave, with its reasons: the enforcement record auditors sample."""

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        DENY = "deny", "Deny"

    service = models.ForeignKey("catalog.Service", null=True, on_delete=models.PROTECT, related_name="gate_decisions")
    environment = models.ForeignKey("catalog.Environment", null=True, on_delete=models.PROTECT,
                                    related_name="gate_decisions")
    artifact = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="gate_decisions")
    artifact_ref = models.CharField(max_length=100, blank=True, help_text="The digest as asked")
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="gate_decisions")
    change_ref = models.CharField(max_length=40, blank=True)
    decision = models.CharField(max_length=5, choices=Decision.choices)
    # [{"code", "message", "severity": "deny" | "warn"}]
    reasons = models.JSONField(default=list, blank=True)
    emergency_override = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    # As the pipeline reported them; plain values (the templates live in the releases app above).
    pipeline_template = models.CharField(max_length=60, blank=True, default="")
    pipeline_template_version = models.CharField(max_length=40, blank=True, default="")
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["change", "decision"], name="gate_change_decision_idx"),
            models.Index(fields=["service", "environment", "created_at"], name="gate_svc_env_created_idx"),
            models.Index(fields=["created_at"], name="gate_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} #{self.pk}"

    @property
    def reason_codes(self) -> list[str]:
        return [r.get("code", "") for r in self.reasons or []]


class DeploymentLock(models.Model):
    """One row per service + environment while a deployment is allowed and not finished.

    The unique constraint is the lock: of simultaneous gate checks only one insert wins."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.CASCADE, related_name="+")
    gate_decision = models.OneToOneField(GateDecision, on_delete=models.CASCADE, related_name="lock")
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acquired_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "environment"], name="one_deployment_lock_per_slot")]

    def __str__(self) -> str:
        return f"lock {self.service_id}/{self.environment_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class SharedResource(models.Model):
    """Something several services change and only one deployment may change at a time: a
    database two services migrate, a configuration store. Organisation-wide, named by slug."""

    class Kind(models.TextChoices):
        DATABASE = "database", "Database"
        CONFIG_STORE = "config_store", "Configuration store"
        QUEUE = "queue", "Message queue"
        CACHE = "cache", "Cache"
        OTHER = "other", "Other"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True, help_text="What pipelines name in shared_resources")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DATABASE)
    description = models.TextField(blank=True)
    # Informational: the services that use it (shown beside it); locking is what a deployment asks for.
    services = models.ManyToManyField("catalog.Service", blank=True, related_name="shared_resources")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class SharedResourceLock(models.Model):
    """One row per shared resource while a running deployment holds it. The unique resource is
    the lock: of simultaneous deployments asking for it only one insert wins. Released where the
    service × environment lock is, when the deployment finishes (or by expiring)."""

    resource = models.OneToOneField(SharedResource, on_delete=models.PROTECT, related_name="lock")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="resource_locks")
    acquired_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.resource_id} held by deployment #{self.deployment_id}"


class WebhookIntegration(models.Model):
    """A CI/CD system allowed to call /hooks/<provider>/, with its shared secret (encrypted at rest
    with FIELD_ENCRYPTION_KEYS; never in history, the audit log, the admin or the API)."""

    class Provider(models.TextChoices):
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab"

    provider = models.CharField(max_length=10, choices=Provider.choices)
    name = models.CharField(max_length=100)
    secret = EncryptedTextField(help_text="GitHub webhook secret or GitLab secret token (encrypted at rest)")
    # Deliveries whose repository matches no service's repository URL are mapped to this one.
    default_service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history(excluded_fields=["secret"])

    class Meta:
        ordering = ["provider", "name"]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.name}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(WebhookIntegration, on_delete=models.CASCADE, related_name="deliveries")
    provider = models.CharField(max_length=10)
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    result = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "delivery_id"], name="webhook_delivery_once")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.provider} {self.event} {self.delivery_id}"


class PullRequest(models.Model):
    """A pull request reported by a webhook, linked to the change it names (`CHG-000123` in its
    title, branch or description). Its head and merge commits tie it to the artifacts built from
    them and the deployments that shipped them."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        MERGED = "merged", "Merged"

    provider = models.CharField(max_length=10)
    # The provider's own id ("github:279147437"): numbers are only unique within a repository.
    external_id = models.CharField(max_length=100, unique=True)
    repository = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="pull_requests")
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="pull_requests")
    # The reference as written, kept when it names no change of this service.
    change_ref = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=500, blank=True)
    author = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=6, choices=State.choices)
    draft = models.BooleanField(default=False)
    head_ref = models.CharField(max_length=255, blank=True)
    head_sha = models.CharField(max_length=40, blank=True)
    base_ref = models.CharField(max_length=255, blank=True)
    merge_commit_sha = models.CharField(max_length=40, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The provider's updated_at of the state stored: an older delivery arriving late changes nothing.
    provider_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["change"], name="pr_change_idx"),
            models.Index(fields=["service", "head_sha"], name="pr_service_head_idx"),
            models.Index(fields=["service", "merge_commit_sha"], name="pr_service_merge_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"
