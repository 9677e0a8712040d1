"""Canary analyses (written by the canary analysis service; the verdict reads the latest)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class CanaryAnalysis(models.Model):
    class Result(models.TextChoices):
        PASS = "pass", "Pass"
        MARGINAL = "marginal", "Marginal"
        FAIL = "fail", "Fail"

    deployment = models.ForeignKey("delivery.Deployment", on_delete=models.CASCADE, related_name="canary_analyses")
    # Denormalised so the gate asks "has this artifact failed a canary?" with one indexed query.
    artifact = models.ForeignKey("delivery.Artifact", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="canary_analyses")
    method = models.CharField(max_length=200)
    # [{"metric", "u", "p_value", "baseline_median", "canary_median", "effect_pct", "classification",
    #   "baseline_count", "canary_count"}]
    metrics = models.JSONField(default=list)
    score = models.FloatField()
    result = models.CharField(max_length=8, choices=Result.choices)
    pass_score = models.FloatField()
    marginal_score = models.FloatField()
    # The canary configuration applied (metrics, directions, tolerances).
    config = models.JSONField(default=dict, blank=True)
    duration_ms = models.FloatField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "canary analyses"
        indexes = [
            models.Index(fields=["deployment", "created_at"], name="canary_dep_created_idx"),
            models.Index(fields=["artifact", "result"], name="canary_artifact_result_idx"),
        ]

    def __str__(self) -> str:
        return f"Canary {self.result} ({self.score:.0f}) for deployment {self.deployment_id}"
