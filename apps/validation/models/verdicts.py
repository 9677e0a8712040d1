"""The judgement of a deployment, and the one rollback decision it may lead to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class Verdict(models.Model):
    """The latest judgement of a deployment (one row, rewritten when its outcome changes; the
    history keeps every earlier outcome as evidence)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    class Action(models.TextChoices):
        WAIT = "wait", "Wait"
        CONTINUE = "continue", "Continue"
        ROLLBACK = "rollback", "Roll back"

    deployment = models.OneToOneField("delivery.Deployment", on_delete=models.CASCADE, related_name="verdict")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.WAIT)
    # [{"code", "message"}]
    reasons = models.JSONField(default=list, blank=True)
    # What the judgement saw: the policy applied, the checks with their worst runs, sample counts,
    # the smoke runs, the canary analysis id. Kept as evidence with the deployment.
    inputs = models.JSONField(default=dict, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    judged_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-judged_at"]
        indexes = [models.Index(fields=["status", "judged_at"], name="verdict_status_idx")]

    def __str__(self) -> str:
        return f"{self.status}/{self.action} for deployment {self.deployment_id}"

    @property
    def reason_codes(self) -> list[str]:
        return [r.get("code", "") for r in self.reasons or []]


class RollbackDecision(models.Model):
    """Recorded once per deployment (the unique constraint holds it under concurrent posts)."""

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (health policy)"
        MANUAL = "manual", "Manual"

    class WebhookStatus(models.TextChoices):
        NONE = "none", "No webhook registered"
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed after retries"

    deployment = models.OneToOneField("delivery.Deployment", on_delete=models.PROTECT, related_name="rollback_decision")
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="rollback_decisions")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.AUTOMATIC)
    reasons = models.JSONField(default=list, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="rollback_decisions")
    webhook = models.ForeignKey("RollbackWebhook", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="decisions")
    webhook_status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.NONE)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    # Set once the owning team and the change's stakeholders were emailed (a retried task sends nothing twice).
    notified_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-decided_at"]
        indexes = [
            models.Index(fields=["change"], name="rollback_decision_change_idx"),
            models.Index(fields=["decided_at"], name="rollback_decision_at_idx"),
        ]

    def __str__(self) -> str:
        return f"Rollback of deployment {self.deployment_id}"
