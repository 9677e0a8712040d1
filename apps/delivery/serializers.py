"""Input and output shapes of the delivery API (API.md)."""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import Environment, Service

from .models import Artifact, Deployment, Evidence, GateDecision, SigningKey

DIGEST_RE = r"^sha256:[0-9a-f]{64}$"


class _ServiceField(serializers.SlugRelatedField):
    def __init__(self, *, with_team: bool = True, **kwargs):
        queryset = Service.objects.select_related("owner_team") if with_team else Service.objects.all()
        super().__init__(slug_field="slug", queryset=queryset, **kwargs)


class _EnvironmentField(serializers.SlugRelatedField):
    def __init__(self, *, with_policy: bool = True, **kwargs):
        queryset = Environment.objects.select_related("delivery_policy") if with_policy else Environment.objects.all()
        super().__init__(slug_field="slug", queryset=queryset, **kwargs)


class ArtifactIn(serializers.Serializer):
    service = _ServiceField()
    version = serializers.CharField(max_length=128)
    digest = serializers.RegexField(DIGEST_RE, error_messages={"invalid": "A digest reads sha256:<64 lowercase hex>."})
    git_sha = serializers.RegexField(r"^[0-9a-f]{7,40}$", required=False, allow_blank=True, default="")
    pipeline_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    build_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=Artifact.Format.choices)
    signature = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    # Bytes in the artifact repository, when the pipeline knows it (the retention list sums it).
    size = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)


class TeamSigningKeyOut(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")

    class Meta:
        model = SigningKey
        fields = ["id", "team", "name", "algorithm", "fingerprint", "is_active", "created_at", "revoked_at"]


class TeamSigningKeyIn(serializers.Serializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=100)
    public_key_pem = serializers.CharField(max_length=4000)


class EvidenceOut(serializers.ModelSerializer):
    class Meta:
        model = Evidence
        fields = ["id", "kind", "summary", "filename", "sha256", "size", "pipeline_run_id", "created_at"]


class ArtifactOut(serializers.ModelSerializer):
    service = serializers.CharField(source="service.slug")
    signing_key = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = ["id", "service", "version", "digest", "git_sha", "pipeline_id", "build_id", "format",
                  "signature_status", "signing_key", "size", "created_at"]

    def get_signing_key(self, obj) -> dict | None:
        key = obj.signing_key
        if key is None:
            return None
        return {"fingerprint": key.fingerprint, "name": key.name, "algorithm": key.algorithm}


class ArtifactDetailOut(ArtifactOut):
    evidence = EvidenceOut(many=True, read_only=True)

    class Meta(ArtifactOut.Meta):
        fields = [*ArtifactOut.Meta.fields, "evidence"]


class EvidenceJsonIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    document = serializers.JSONField()
    service = serializers.SlugField(required=False)
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class EvidenceFileIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    file = serializers.FileField(allow_empty_file=True)
    service = serializers.SlugField(required=False)
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class GateCheckIn(serializers.Serializer):
    service = _ServiceField()
    environment = _EnvironmentField()
    artifact = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    change = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    # The pipeline template (slug) and version the run was built from; checked by releases.templates.
    pipeline_template = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    pipeline_template_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    # Named shared resources (slugs) the deployment will change: a held one denies (resource_locked).
    shared_resources = serializers.ListField(child=serializers.SlugField(max_length=60), required=False, default=list,
                                             max_length=20)


class ReasonOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.CharField()


class GateDecisionOut(serializers.ModelSerializer):
    gate_decision_id = serializers.IntegerField(source="id")
    service = serializers.CharField(source="service.slug", default=None)
    environment = serializers.CharField(source="environment.slug", default=None)
    artifact = serializers.CharField(source="artifact_ref")
    change = serializers.SerializerMethodField()
    reasons = ReasonOut(many=True)

    class Meta:
        model = GateDecision
        fields = ["gate_decision_id", "decision", "reasons", "emergency_override", "service", "environment",
                  "artifact", "change", "pipeline_run_id", "pipeline_template", "pipeline_template_version",
                  "duration_ms", "created_at"]

    def get_change(self, obj) -> str | None:
        return obj.change.number if obj.change_id else (obj.change_ref or None)


class CommitIn(serializers.Serializer):
    sha = serializers.RegexField(r"^[0-9a-fA-F]{4,40}$")
    authored_at = serializers.DateTimeField()
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


_COMMIT_SHA = re.compile(r"[0-9a-fA-F]{4,40}")
MAX_COMMITS = 1000


@extend_schema_field(CommitIn(many=True))
class CommitsField(serializers.Field):
    """A deployment's commits, checked by the rules of `CommitIn` without a nested serializer per
    commit: for a pipeline's usual 20 commits that machinery cost more than the rest of the request.
    Errors are reported per commit and field (`commits[3].sha`), as the nested form reported them."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of commits.")
        if len(data) > MAX_COMMITS:
            raise serializers.ValidationError(f"Ensure this field has no more than {MAX_COMMITS} elements.")
        zone = timezone.get_current_timezone()
        commits, errors = [], []
        for item in data:
            problems: dict[str, list[str]] = {}
            if not isinstance(item, dict):
                errors.append({"non_field_errors": ["Expected an object with sha, authored_at and message."]})
                continue
            sha = item.get("sha")
            if not isinstance(sha, str) or not _COMMIT_SHA.fullmatch(sha):
                problems["sha"] = ["Not a commit SHA (4 to 40 hexadecimal characters)." if sha is not None
                                   else "This field is required."]
            authored_at = _datetime(item.get("authored_at"), zone, problems)
            message = item.get("message", "")
            if not isinstance(message, str):
                problems["message"] = ["Not a valid string."]
            elif len(message) > 5000:
                problems["message"] = ["Ensure this field has no more than 5000 characters."]
            errors.append(problems)
            commits.append({"sha": sha, "authored_at": authored_at, "message": message})
        if any(errors):
            raise serializers.ValidationError(errors)
        return commits

    def to_representation(self, value):
        return CommitIn(value, many=True).data


def _datetime(value, zone, problems: dict[str, list[str]]) -> datetime | None:
    if value is None:
        problems["authored_at"] = ["This field is required."]
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        problems["authored_at"] = ["Datetime has wrong format. Use ISO 8601, e.g. 2026-11-26T09:30:00Z."]
        return None
    return timezone.make_aware(parsed, zone) if timezone.is_naive(parsed) else parsed


class DeploymentIn(serializers.Serializer):
    # Recording a deployment needs neither the owning team nor the gate's policy: not joined.
    service = _ServiceField(with_team=False)
    environment = _EnvironmentField(with_policy=False)
    artifact = serializers.RegexField(DIGEST_RE, required=False, allow_blank=True, default="")
    version = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    change = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True, default="")
    status = serializers.ChoiceField(choices=Deployment.Status.choices, default=Deployment.Status.STARTED)
    kind = serializers.ChoiceField(choices=Deployment.Kind.choices, default=Deployment.Kind.NORMAL)
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    finished_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    pipeline_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    rollback_of = serializers.IntegerField(required=False, allow_null=True, default=None)
    commits = CommitsField(required=False, default=list)
    # The pipeline template (slug) and version the run was built from, kept on the deployment.
    pipeline_template = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    pipeline_template_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    # Named shared resources (slugs) a starting deployment holds until it finishes, all or none.
    shared_resources = serializers.ListField(child=serializers.SlugField(max_length=60), required=False, default=list,
                                             max_length=20)

    def validate(self, attrs):
        if not attrs["artifact"] and not attrs["version"]:
            raise serializers.ValidationError({"artifact": ["Give the artifact digest or the version."]})
        return attrs


class DeploymentPatchIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Deployment.Status.choices, required=False)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    pipeline_url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class DeploymentOut(serializers.Serializer):
    # Declared field by field rather than a ModelSerializer: it is answered on every recorded
    # deployment, and building a ModelSerializer's fields from the model cost more than rendering.
    id = serializers.IntegerField(read_only=True)
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")
    artifact = serializers.CharField(source="artifact.digest", default=None)
    version = serializers.CharField()
    change = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Deployment.Status.choices)
    kind = serializers.ChoiceField(choices=Deployment.Kind.choices)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    pipeline_run_id = serializers.CharField()
    pipeline_url = serializers.CharField()
    is_unauthorized = serializers.BooleanField()
    gate_decision_id = serializers.IntegerField(allow_null=True)
    rollback_of_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_change(self, obj) -> dict | None:
        if not obj.change_id:
            return None
        return {"id": obj.change_id, "number": obj.change.number, "state": obj.change.state}

    def to_representation(self, obj) -> dict:
        # The declared fields above describe the answer (OpenAPI); writing it directly spares a
        # deep copy of sixteen field objects per deployment. A test holds the two to the same keys.
        return {
            "id": obj.pk, "service": obj.service.slug, "environment": obj.environment.slug,
            "artifact": obj.artifact.digest if obj.artifact_id else None, "version": obj.version,
            "change": self.get_change(obj), "status": obj.status, "kind": obj.kind,
            "started_at": _TIME.to_representation(obj.started_at),
            "finished_at": _TIME.to_representation(obj.finished_at) if obj.finished_at else None,
            "pipeline_run_id": obj.pipeline_run_id, "pipeline_url": obj.pipeline_url,
            "is_unauthorized": obj.is_unauthorized, "gate_decision_id": obj.gate_decision_id,
            "rollback_of_id": obj.rollback_of_id, "created_at": _TIME.to_representation(obj.created_at),
        }


_TIME = serializers.DateTimeField()


class CommitOut(serializers.Serializer):
    sha = serializers.CharField()
    authored_at = serializers.DateTimeField()
    message = serializers.CharField()


class DeploymentDetailOut(DeploymentOut):
    commits = CommitOut(many=True, read_only=True)

    def to_representation(self, obj) -> dict:
        return {**super().to_representation(obj), "commits": CommitOut(obj.commits.all(), many=True).data}
