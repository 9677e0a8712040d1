from __future__ import annotations

from django.conf import settings
from django.db import models

from .actor import ACTOR_KINDS
from .fields import CanonicalJSONField
from .history import governed_history

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One link of the hash chain. Written only by `apps.audit.services`; the database refuses
    UPDATE and DELETE on this table (apps/audit/triggers.py)."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_type = models.CharField(max_length=20, choices=[(k, k) for k in ACTOR_KINDS])
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    object_repr = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.CharField(max_length=45, blank=True, default="")
    # The canonical text that was hashed, verbatim (a `json` column on PostgreSQL).
    details = CanonicalJSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor_label", "seq"], name="audit_actor_idx"),
        ]
        permissions = [("view_audit_log", "Can view and export the audit log")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


# --- Retention, legal holds, archives, chain checkpoints, evidence packs ---------------------
# (issue 8). The AuditEvent model above is the foundation and keeps its behaviour.


class RecordClass(models.TextChoices):
    CHANGE_REQUEST = "change_request", "Change requests (with approvals)"
    DEPLOYMENT = "deployment", "Deployments"
    GATE_DECISION = "gate_decision", "Gate decisions"
    INCIDENT = "incident", "Incidents"
    ACCESS_REVIEW = "access_review", "Access reviews"
    REPORT = "report", "Reports"
    EVIDENCE_DOCUMENT = "evidence_document", "Evidence documents"
    ARTIFACT = "artifact", "Artifacts (builds)"
    AUDIT_EVENT = "audit_event", "Audit events"


class RetentionPolicy(models.Model):
    """How long one class of records is kept. A policy with an empty scope is the default; one
    naming a compliance scope (hipaa, sox...) applies to records of services in that scope. A
    record is kept for the longest of the scoped policies that apply to it, or the default when
    none does (so 6 years for a HIPAA-only service, 7 when it is also in SOX)."""

    class CountedFrom(models.TextChoices):
        CLOSURE = "closure", "Closure of the record"
        LAST_IN_EFFECT = "last_in_effect", "Date last in effect"
        CREATION = "creation", "Creation of the record"

    record_class = models.CharField(max_length=30, choices=RecordClass.choices)
    compliance_scope = models.CharField(max_length=20, blank=True, default="",
                                        help_text="Empty: the default for this record class")
    years = models.PositiveSmallIntegerField()
    counted_from = models.CharField(max_length=20, choices=CountedFrom.choices, default=CountedFrom.CLOSURE)
    description = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    history = governed_history()

    class Meta:
        ordering = ["record_class", "compliance_scope"]
        constraints = [models.UniqueConstraint(fields=["record_class", "compliance_scope"],
                                               name="retention_one_policy_per_class_scope")]
        permissions = [("manage_retention", "Can manage retention policies and legal holds")]

    def __str__(self) -> str:
        scope = self.compliance_scope or "default"
        return f"{self.get_record_class_display()} ({scope}): {self.years} years from {self.counted_from}"


class LegalHold(models.Model):
    """Records in the hold's scope cannot be purged while it is active. The scope is the
    intersection of what is set: a service, a team, a period, a record class, single records."""

    title = models.CharField(max_length=200)
    reason = models.TextField()
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    record_class = models.CharField(max_length=30, choices=RecordClass.choices, blank=True, default="")
    # Single records as "<record_class>:<id>", e.g. "change_request:42".
    records = models.JSONField(default=list, blank=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True, default="")

    history = governed_history()

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"Legal hold: {self.title}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class ChainCheckpoint(models.Model):
    """Where the verifiable chain starts after a sanctioned purge of its oldest events: the
    sequence number and hash of the last purged event (the next event's prev_hash)."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    purged_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} {self.hash[:12]}"


class Archive(models.Model):
    """One immutable file: gzip-compressed JSON Lines of one record class for one month."""

    record_class = models.CharField(max_length=30, choices=RecordClass.choices)
    month = models.DateField(help_text="First day of the month the records belong to")
    path = models.CharField(max_length=300, unique=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    record_count = models.IntegerField()
    created_at = models.DateTimeField()
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "record_class"]
        constraints = [models.UniqueConstraint(fields=["record_class", "month"], name="archive_one_per_class_month")]

    def __str__(self) -> str:
        return f"{self.record_class} {self.month:%Y-%m}"


class ArchivedRecord(models.Model):
    """The search index of archived records: enough to find and export one without opening the file."""

    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="records")
    record_class = models.CharField(max_length=30, choices=RecordClass.choices)
    object_id = models.CharField(max_length=64)
    reference = models.CharField(max_length=100, db_index=True, help_text="CHG-000123, deployment id, ...")
    title = models.CharField(max_length=300, blank=True, default="")
    service_slug = models.CharField(max_length=60, blank=True, default="", db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    data = models.JSONField()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [models.UniqueConstraint(fields=["record_class", "object_id"], name="archived_record_once")]

    def __str__(self) -> str:
        return f"{self.record_class}:{self.reference}"


class SigningKey(models.Model):
    """Every public key that ever signed an evidence pack stays published here, rotated or not."""

    key_id = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the raw public key, hex")
    public_key_pem = models.TextField()
    is_development = models.BooleanField(default=False)
    first_used_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_used_at"]

    def __str__(self) -> str:
        return f"ed25519 {self.key_id[:16]}"


class EvidencePack(models.Model):
    class Scope(models.TextChoices):
        CHANGE = "change", "A change"
        RELEASE = "release", "A release (service version)"
        SERVICE_PERIOD = "service_period", "A service over a period"
        CONTROL_PERIOD = "control_period", "A control over a period"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    scope = models.CharField(max_length=20, choices=Scope.choices)
    parameters = models.JSONField(default=dict)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    signing_key = models.ForeignKey(SigningKey, null=True, blank=True, on_delete=models.PROTECT, related_name="packs")

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Evidence pack #{self.pk}: {self.title}"


class ChainVerification(models.Model):
    """One run of the chain verification `audit_verify` performs, asked for from the browser by
    an auditor: who asked, when, and the verdict (head reached, the anchor and the key that
    signed it, every problem found)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        INTACT = "intact", "Intact"
        BROKEN = "broken", "Broken"
        FAILED = "failed", "Could not run"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    checked = models.BigIntegerField(default=0)
    start_seq = models.BigIntegerField(default=0)
    head_seq = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True, default="")
    broken_seq = models.BigIntegerField(null=True, blank=True)
    anchor_seq = models.BigIntegerField(null=True, blank=True)
    anchor_at = models.CharField(max_length=40, blank=True, default="")
    anchor_key_id = models.CharField(max_length=64, blank=True, default="")
    anchor_key_development = models.BooleanField(default=False)
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Chain verification #{self.pk}: {self.status}"

    @property
    def is_busy(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
