"""Release trains, releases and their scope, service dependencies, compliance checkpoints (issue #15).

Writes go through apps/releases/services.py; reads through selectors.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class Cadence(models.TextChoices):
    CONTINUOUS = "continuous", "Continuous"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    CUSTOM = "custom", "Custom (RRULE)"


class TrainReason(models.TextChoices):
    REGULATORY = "regulatory", "Regulatory"
    BUSINESS_CYCLE = "business_cycle", "Business cycle"
    STABILITY = "stability", "Stability"


class SignoffRole(models.TextChoices):
    """The sign-offs a train may require on a scope exception; each maps to an account role
    (apps.accounts.roles: product_owner, security_officer, operations_lead)."""

    PRODUCT = "product", "Product"
    SECURITY = "security", "Security"
    OPERATIONS = "operations", "Operations"


class ReleaseTrain(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    cadence = models.CharField(max_length=12, choices=Cadence.choices, default=Cadence.CONTINUOUS)
    # For `custom`: an RFC 5545 RRULE (dateutil's rrulestr). The weekly/monthly/quarterly cadences
    # are rules too, derived from `cadence_anchor` (apps.releases.cadence).
    rrule = models.CharField(max_length=500, blank=True)
    cadence_anchor = models.DateTimeField(default=timezone.now, help_text="First occurrence of the cadence")
    window_hours = models.PositiveIntegerField(default=24, help_text="How long each release window stays open")
    reason = models.CharField(max_length=20, choices=TrainReason.choices, default=TrainReason.STABILITY)
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="release_trains_owned")
    signoff_roles = models.JSONField(default=list, blank=True, help_text='e.g. ["product", "security", "operations"]')
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TrainService(models.Model):
    """A service belongs to at most one train."""

    train = models.ForeignKey(ReleaseTrain, on_delete=models.CASCADE, related_name="memberships")
    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="release_train_link")
    added_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"{self.service_id} on {self.train_id}"


class OffCadenceJustification(models.Model):
    """Why a production change runs outside its train's cadence (apps.releases.cadence)."""

    change = models.OneToOneField("changes.ChangeRequest", on_delete=models.CASCADE,
                                  related_name="off_cadence_justification")
    text = models.TextField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"off-cadence justification for {self.change_id}"


class ReleaseState(models.TextChoices):
    PLANNING = "planning", "Planning"
    SCOPE_LOCKED = "scope_locked", "Scope locked"
    IN_PROGRESS = "in_progress", "In progress"
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Cancelled"


class Release(models.Model):
    train = models.ForeignKey(ReleaseTrain, on_delete=models.PROTECT, related_name="releases")
    name = models.CharField(max_length=120)
    planned_start = models.DateTimeField()
    scope_lock_at = models.DateTimeField()
    state = models.CharField(max_length=14, choices=ReleaseState.choices, default=ReleaseState.PLANNING,
                             db_index=True)
    services = models.ManyToManyField("catalog.Service", through="ReleaseService", related_name="releases")
    # The plan, recomputed whenever the services or their dependencies change (services.release_replan):
    # {"waves": [[service id, ...], ...], "before": {"<service id>": [service ids that must go first]}}.
    plan = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-planned_start", "-pk"]

    def __str__(self) -> str:
        return self.name


class ReleaseService(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="service_links")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="release_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["release", "service"], name="release_service_unique")]

    def __str__(self) -> str:
        return f"{self.service_id} in {self.release_id}"


class ReleaseChange(models.Model):
    """A change in a release's scope. `after_lock`: added after scope_lock_at (scope creep),
    allowed only by the signed `exception`."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="change_links")
    change = models.ForeignKey("changes.ChangeRequest", on_delete=models.PROTECT, related_name="release_links")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    after_lock = models.BooleanField(default=False)
    exception = models.ForeignKey("ScopeException", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["release", "change"], name="release_change_unique")]

    def __str__(self) -> str:
        return f"{self.change_id} in {self.release_id}"


class ScopeException(models.Model):
    """A request to add `change` to a locked release; approved once every sign-off role the
    train names has signed, each by a different person who is not the requester."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        USED = "used", "Used"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="scope_exceptions")
    change = models.ForeignKey("changes.ChangeRequest", on_delete=models.PROTECT, related_name="scope_exceptions")
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    required_roles = models.JSONField(default=list, blank=True, help_text="The train's sign-off roles when asked")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    approved_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["release", "change"], name="scope_exception_unique")]

    def __str__(self) -> str:
        return f"scope exception for {self.change_id} in {self.release_id}"


class ScopeSignoff(models.Model):
    exception = models.ForeignKey(ScopeException, on_delete=models.CASCADE, related_name="signoffs")
    role = models.CharField(max_length=12, choices=SignoffRole.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    signed_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["exception", "role"], name="scope_signoff_one_per_role"),
            models.UniqueConstraint(fields=["exception", "signer"], name="scope_signoff_one_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off on {self.exception_id}"


class ServiceDependency(models.Model):
    """`service` needs `depends_on` deployed first."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="dependents")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "depends_on"], name="service_dependency_unique"),
            models.CheckConstraint(condition=~models.Q(service=models.F("depends_on")),
                                   name="service_dependency_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} -> {self.depends_on_id}"


class ComplianceScope(models.Model):
    """SOX, HIPAA, PCI…: the key is one of apps.catalog.models.COMPLIANCE_SCOPE_KEYS."""

    key = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=80)
    retention_days = models.PositiveIntegerField(default=2555, help_text="How long records in this scope are kept")
    waiver_role = models.CharField(max_length=40, default="auditor",
                                   help_text="The account role that may waive a checkpoint")

    history = governed_history()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class ComplianceCheckpoint(models.Model):
    scope = models.ForeignKey(ComplianceScope, on_delete=models.CASCADE, related_name="checkpoints")
    name = models.CharField(max_length=120)
    required_evidence_kinds = models.JSONField(default=list, blank=True)
    required_approval_stages = models.JSONField(default=list, blank=True)
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    control = models.CharField(max_length=80, blank=True, help_text="The evidence-pack control that covers it")

    history = governed_history()

    class Meta:
        ordering = ["scope", "name"]
        constraints = [models.UniqueConstraint(fields=["scope", "name"], name="compliance_checkpoint_unique")]

    def __str__(self) -> str:
        return f"{self.scope_id}: {self.name}"


class CheckpointWaiver(models.Model):
    """A checkpoint waived for one change by someone holding the scope's waiver role."""

    checkpoint = models.ForeignKey(ComplianceCheckpoint, on_delete=models.PROTECT, related_name="waivers")
    change = models.ForeignKey("changes.ChangeRequest", on_delete=models.CASCADE, related_name="checkpoint_waivers")
    reason = models.TextField()
    waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    waived_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["checkpoint", "change"], name="checkpoint_waiver_unique")]

    def __str__(self) -> str:
        return f"{self.checkpoint_id} waived for {self.change_id}"
