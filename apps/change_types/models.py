from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history

RISK_LEVELS = ["low", "medium", "high", "critical"]


def risk_rank(level: str) -> int:
    """Position of a risk level (low=0 … critical=3); unknown or blank ranks below low."""
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else -1


class ChangeType(models.Model):
    """A kind of change and its approval workflow (stages live in ApprovalStage)."""

    class CabRequired(models.TextChoices):
        NEVER = "never", "Never"
        ALWAYS = "always", "Always"
        FROM_RISK = "from_risk", "From a risk level up"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    is_pre_approved = models.BooleanField(default=False, help_text="Standard change: no approval stages")
    is_emergency = models.BooleanField(default=False, help_text="May be implemented on an emergency override")
    cab_required = models.CharField(max_length=12, choices=CabRequired.choices, default=CabRequired.NEVER)
    cab_from_risk = models.CharField(max_length=10, choices=[(r, r) for r in RISK_LEVELS], blank=True, default="")
    is_active = models.BooleanField(default=True)
    # Peer review even when a pipeline applies the change (configuration changes).
    requires_peer_review = models.BooleanField(default=False)
    override_hours = models.PositiveSmallIntegerField(default=24, help_text="Emergency override validity")
    post_mortem_days = models.PositiveSmallIntegerField(default=5, help_text="Emergency post-mortem due after N days")

    history = governed_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def needs_cab(self, risk_level: str) -> bool:
        if self.cab_required == self.CabRequired.ALWAYS:
            return True
        if self.cab_required == self.CabRequired.FROM_RISK and self.cab_from_risk:
            return risk_rank(risk_level) >= risk_rank(self.cab_from_risk)
        return False


class ApprovalStage(models.Model):
    """One ordered step of a change type's workflow."""

    class ApproverKind(models.TextChoices):
        GROUP = "group", "A role or group"
        OWNING_TEAM = "owning_team", "The service's owning team"

    class Rule(models.TextChoices):
        ANY = "any", "Any one approver"
        ALL = "all", "Every approver"
        QUORUM = "quorum", "A quorum of N approvers"

    class AppliesWhen(models.TextChoices):
        ALWAYS = "always", "Always"
        DATABASE_CHANGE = "database_change", "Database changes only"
        CAB = "cab", "When CAB review is required"

    change_type = models.ForeignKey(ChangeType, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=80)
    approver_kind = models.CharField(max_length=20, choices=ApproverKind.choices, default=ApproverKind.GROUP)
    approver_group = models.CharField(max_length=150, blank=True, help_text="Group (role) name for kind=group")
    rule = models.CharField(max_length=10, choices=Rule.choices, default=Rule.ANY)
    quorum = models.PositiveSmallIntegerField(default=1)
    sla_hours = models.PositiveSmallIntegerField(default=24)
    mandatory = models.BooleanField(default=True)
    applies_when = models.CharField(max_length=20, choices=AppliesWhen.choices, default=AppliesWhen.ALWAYS)
    is_cab = models.BooleanField(default=False, help_text="CAB meetings record their decision on this stage")

    history = governed_history()

    class Meta:
        ordering = ["change_type", "order"]
        constraints = [
            models.UniqueConstraint(fields=["change_type", "order"], name="stage_order_unique_per_type"),
            models.CheckConstraint(condition=models.Q(quorum__gte=1), name="stage_quorum_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.change_type.slug}#{self.order} {self.name}"

    @property
    def rule_label(self) -> str:
        if self.rule == self.Rule.QUORUM:
            return f"quorum {self.quorum}"
        return self.rule

    @property
    def who_label(self) -> str:
        if self.approver_kind == self.ApproverKind.OWNING_TEAM:
            return "service's owning team"
        return f"group “{self.approver_group}”"


class StandardChangeTemplate(models.Model):
    """A pre-approved standard change. Proposed, approved (by someone else), versioned, retired:
    only an approved version may be used to file a standard change."""

    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        RETIRED = "retired", "Retired"
        SUPERSEDED = "superseded", "Superseded"

    slug = models.SlugField(max_length=60)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="Blank: any service")
    rollout_strategy = models.CharField(max_length=20, default="rolling")
    rollback_plan = models.TextField(blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PROPOSED, db_index=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=200, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["slug", "-version"]
        constraints = [models.UniqueConstraint(fields=["slug", "version"], name="template_slug_version_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
