"""Input and output shapes of the configuration API. Settings arrive as plain JSON and are
validated by the services: no serializer error ever repeats a submitted value (a value may be a
secret)."""

from __future__ import annotations

from rest_framework import serializers

from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest
from apps.delivery.models import Deployment
from releaseportal.input import parse_id

from .models.config import ConfigObservation, DriftFinding


class ChangeRefField(serializers.Field):
    """A change by id (123) or number ("CHG-000123")."""

    default_error_messages = {"unknown": "No such change."}

    def to_internal_value(self, data):
        qs = ChangeRequest.objects.select_related("change_type", "service", "environment")
        change = None
        if isinstance(data, int) and not isinstance(data, bool):
            change = qs.filter(pk=data).first()
        elif isinstance(data, str) and data.strip():
            text = data.strip()
            pk = parse_id(text)
            change = qs.filter(pk=pk).first() if pk is not None else qs.filter(number__iexact=text).first()
        if change is None:
            self.fail("unknown")
        return change

    def to_representation(self, value):
        return value.number


class BaselineIn(serializers.Serializer):
    change = ChangeRefField()
    settings = serializers.JSONField()


class PendingOut(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()
    settings = serializers.JSONField()
    change = serializers.CharField()
    proposed_at = serializers.DateTimeField()
    proposed_by = serializers.CharField(allow_null=True)


class BaselineOut(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    settings = serializers.JSONField()
    approved_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True)
    approvers = serializers.ListField(child=serializers.CharField())
    change = serializers.CharField(allow_null=True)
    pending = PendingOut(allow_null=True)


class ObservationIn(serializers.Serializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.select_related("owner_team"))
    environment = serializers.SlugRelatedField(slug_field="slug", queryset=Environment.objects.all())
    source = serializers.ChoiceField(choices=ConfigObservation.Source.choices)
    observed_at = serializers.DateTimeField()
    deployment = serializers.PrimaryKeyRelatedField(queryset=Deployment.objects.all(), required=False, allow_null=True)
    settings = serializers.JSONField()
    runtimes = serializers.JSONField(required=False, default=dict)


class DriftItemOut(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    expected = serializers.CharField()
    observed = serializers.CharField()
    must_match = serializers.BooleanField()


class ObservationOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")
    source = serializers.CharField()
    observed_at = serializers.DateTimeField()
    deployment = serializers.IntegerField(source="deployment_id", allow_null=True)
    baseline_version = serializers.SerializerMethodField()
    runtimes = serializers.JSONField()
    drift = serializers.SerializerMethodField()
    findings_opened = serializers.SerializerMethodField()

    def get_baseline_version(self, obj) -> int | None:
        return obj.baseline.version if obj.baseline_id else None

    def get_drift(self, obj) -> list[dict]:
        return [{k: d[k] for k in ("key", "kind", "expected", "observed", "must_match")} for d in obj.drift_details]

    def get_findings_opened(self, obj) -> list[int]:
        return list(obj.new_finding_ids)


class FindingOut(serializers.ModelSerializer):
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")
    resolved_by = serializers.SerializerMethodField()
    resolving_change = serializers.SerializerMethodField()

    class Meta:
        model = DriftFinding
        fields = ["id", "service", "environment", "key", "kind", "expected", "observed", "secret", "must_match",
                  "first_seen", "last_seen", "deployment", "status", "resolution", "resolved_by", "resolved_at",
                  "resolving_change", "cleared_by"]

    def get_resolved_by(self, obj) -> str | None:
        return obj.resolved_by.username if obj.resolved_by_id else None

    def get_resolving_change(self, obj) -> str | None:
        return obj.resolving_change.number if obj.resolving_change_id else None


class ResolveIn(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=[DriftFinding.Resolution.REVERTED, DriftFinding.Resolution.ACCEPTED])
    change = ChangeRefField(required=False, allow_null=True)
