"""Shapes of the validation API (API.md "Post-deployment validation"). Inputs are validated by
ingest.py and services.policy_clean so every path (API, demo, bench) refuses the same things;
these serializers describe them for the schema and shape the answers."""

from __future__ import annotations

from rest_framework import serializers


class CheckIn(serializers.Serializer):
    metric = serializers.CharField()
    comparator = serializers.ChoiceField(choices=[">", "<"])
    threshold = serializers.FloatField()
    for_minutes = serializers.FloatField()


class CanaryMetricIn(serializers.Serializer):
    metric = serializers.CharField()
    direction = serializers.ChoiceField(choices=["increase_is_bad", "decrease_is_bad"])
    tolerance_pct = serializers.FloatField()


class CanaryConfigIn(serializers.Serializer):
    metrics = CanaryMetricIn(many=True)
    pass_score = serializers.FloatField()
    marginal_score = serializers.FloatField()


class HealthPolicyIn(serializers.Serializer):
    validation_minutes = serializers.IntegerField()
    checks = CheckIn(many=True)
    canary = CanaryConfigIn()
    smoke_required_within_minutes = serializers.IntegerField(allow_null=True)
    auto_rollback = serializers.BooleanField()


class HealthPolicyOut(HealthPolicyIn):
    service = serializers.CharField()
    environment = serializers.CharField()
    is_default = serializers.BooleanField()


class MetricSamplesIn(serializers.Serializer):
    metric = serializers.CharField()
    cohort = serializers.ChoiceField(choices=["current", "baseline", "canary"])
    samples = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(), min_length=2,
                                                                max_length=2))


class ReasonOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class VerdictOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "passed", "failed"])
    action = serializers.ChoiceField(choices=["wait", "continue", "rollback"])
    reasons = ReasonOut(many=True)
    canary = serializers.DictField(allow_null=True)
    window = serializers.DictField()
    rollback = serializers.DictField(allow_null=True)


class MetricSamplesOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    batch = serializers.IntegerField()
    verdict = VerdictOut()


class SeriesOut(serializers.Serializer):
    metric = serializers.CharField()
    cohort = serializers.CharField()
    samples = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class MetricsOut(serializers.Serializer):
    series = SeriesOut(many=True)
    checks = CheckIn(many=True)
    window = serializers.DictField()


class CheckResultIn(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["passed", "failed", "skipped"])
    duration_ms = serializers.FloatField(required=False, allow_null=True)


class CheckRunIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["smoke", "synthetic"])
    results = CheckResultIn(many=True)


class CheckRunOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField()
    total = serializers.IntegerField()
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    verdict = VerdictOut()


def verdict_body(judgement, *, canary: dict | None, decision=None) -> dict:
    return {
        "status": judgement.status,
        "action": judgement.action,
        "reasons": judgement.reasons,
        "canary": canary,
        "window": {"start": judgement.window_start.isoformat() if judgement.window_start else None,
                   "end": judgement.window_end.isoformat() if judgement.window_end else None},
        "rollback": None if decision is None else {
            "decided_at": decision.decided_at.isoformat(), "incident": decision.incident_id,
            "webhook_status": decision.webhook_status, "reasons": decision.reasons},
    }


class RollbackWebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    secret = serializers.CharField(min_length=16, max_length=500, write_only=True)
    environment = serializers.SlugField(required=False, allow_null=True, default=None)
    pipeline = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class RollbackWebhookOut(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.CharField()
    environment = serializers.CharField(allow_null=True)
    pipeline = serializers.CharField()
    url = serializers.URLField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
