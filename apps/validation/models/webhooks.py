"""Where a pipeline wants to be told to roll back, and every attempt to tell it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.encryption import EncryptedTextField
from apps.audit.history import governed_history


class RollbackWebhook(models.Model):
    """A pipeline's rollback endpoint for a service (optionally one environment). The body is
    signed with HMAC-SHA256 under `secret` (stored encrypted)."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="rollback_webhooks")
    # None: every environment of the service.
    environment = models.ForeignKey("catalog.Environment", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    pipeline = models.CharField(max_length=100, blank=True, help_text="A label: which pipeline registered it")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history(excluded_fields=["secret"])

    class Meta:
        ordering = ["service_id", "environment_id", "pipeline"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "pipeline"], name="one_rollback_webhook_per_scope"),
        ]

    def __str__(self) -> str:
        return f"Rollback webhook {self.pipeline or self.url} for service {self.service_id}"


class RollbackWebhookAttempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    decision = models.ForeignKey("RollbackDecision", on_delete=models.CASCADE, related_name="webhook_attempts")
    webhook = models.ForeignKey(RollbackWebhook, null=True, on_delete=models.SET_NULL, related_name="attempts")
    attempt = models.PositiveIntegerField()
    url = models.URLField(max_length=500)
    outcome = models.CharField(max_length=9, choices=Outcome.choices)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.FloatField(default=0)
    attempted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decision_id", "attempt"]
        constraints = [models.UniqueConstraint(fields=["decision", "attempt"], name="one_row_per_webhook_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of decision {self.decision_id}: {self.outcome}"
