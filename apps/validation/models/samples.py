"""Metric samples, stored compactly: a few rows per series, not one per sample.

Bench scale is 500 deployments × 4 metrics × one sample per 10 s (720,000 samples an hour):
a row per sample would make every judgement read hundreds of rows and every canary analysis
tens of thousands. A batch row holds samples of one (deployment, metric, cohort) as a JSON list
of [unix_seconds, value], sorted by time, with its first and last timestamp so a reader can
skip batches outside a window without opening them. A post joins the series' latest batch when
its samples all come later and the batch has room (services.BATCH_MAX_SAMPLES), else it starts
a new one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Cohort(models.TextChoices):
    CURRENT = "current", "Current"
    BASELINE = "baseline", "Baseline"
    CANARY = "canary", "Canary"


class MetricSampleBatch(models.Model):
    deployment = models.ForeignKey("delivery.Deployment", on_delete=models.CASCADE, related_name="metric_batches")
    metric = models.CharField(max_length=64)
    cohort = models.CharField(max_length=8, choices=Cohort.choices)
    # [[unix_seconds (float), value (float)], …] sorted by time; samples outside the validation
    # window are kept here too, the judgement skips them.
    samples = models.JSONField(default=list)
    count = models.PositiveIntegerField(default=0)
    first_ts = models.FloatField()
    last_ts = models.FloatField()
    # "pairs" or "prometheus": the shape it came in.
    source = models.CharField(max_length=10, default="pairs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment_id", "metric", "cohort", "first_ts"]
        indexes = [
            models.Index(fields=["deployment", "metric", "cohort", "first_ts"], name="metric_batch_series_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}/{self.cohort} ×{self.count} for deployment {self.deployment_id}"
