"""What "healthy" means for a service in an environment after a deployment."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class HealthPolicy(models.Model):
    """Per service × environment. Without a row the default policy applies (judgement.py:
    error rate above 5 % for 5 minutes, 60-minute window, no smoke requirement, no automatic
    rollback)."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="health_policies")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.CASCADE, related_name="health_policies")
    validation_minutes = models.PositiveIntegerField(default=60)
    # [{"metric": "error_rate_pct", "comparator": ">" | "<", "threshold": 5.0, "for_minutes": 5}]
    checks = models.JSONField(default=list, blank=True)
    # [{"metric": "p95_latency_ms", "direction": "increase_is_bad" | "decrease_is_bad", "tolerance_pct": 10}]
    canary_metrics = models.JSONField(default=list, blank=True)
    pass_score = models.FloatField(default=95)
    marginal_score = models.FloatField(default=75)
    # None: no smoke run is required.
    smoke_required_within_minutes = models.PositiveIntegerField(null=True, blank=True)
    auto_rollback = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        verbose_name_plural = "health policies"
        ordering = ["service_id", "environment_id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment"], name="one_health_policy_per_slot"),
        ]

    def __str__(self) -> str:
        return f"Health policy {self.service_id}/{self.environment_id}"
