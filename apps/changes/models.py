from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class ChangeState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENTING = "implementing", "Implementing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    CLOSED = "closed", "Closed"


class RolloutStrategy(models.TextChoices):
    BLUE_GREEN = "blue_green", "Blue/green"
    CANARY = "canary", "Canary"
    ROLLING = "rolling", "Rolling"
    RECREATE = "recreate", "Recreate"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ChangeRequest(models.Model):
    number = models.CharField(max_length=20, unique=True, blank=True, help_text="CHG-000123, assigned on creation")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.ForeignKey("change_types.ChangeType", on_delete=models.PROTECT, related_name="changes")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="changes")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="changes")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes_requested")
    implementer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="changes_implemented")
    state = models.CharField(max_length=20, choices=ChangeState.choices, default=ChangeState.DRAFT, db_index=True)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    rollout_strategy = models.CharField(max_length=20, choices=RolloutStrategy.choices, default=RolloutStrategy.ROLLING)
    rollback_plan = models.TextField(blank=True)
    rollback_criteria = models.JSONField(default=dict, blank=True)
    compliance_scopes = models.JSONField(default=list, blank=True)
    risk_answers = models.JSONField(default=dict, blank=True)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True, default="")
    # SHA-256 of what approvers approve (plan, schedule, service, risk): approvals carry it too.
    content_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    implementation_started_at = models.DateTimeField(null=True, blank=True)
    implemented_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["service", "environment", "state"], name="change_svc_env_state_idx"),
            models.Index(fields=["state", "created_at"], name="change_state_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @staticmethod
    def format_number(pk: int) -> str:
        return f"CHG-{pk:06d}"
