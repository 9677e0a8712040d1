"""Input and output shapes of the delivery API (API.md)."""

from __future__ import annotations

from rest_framework import serializers

from apps.catalog.models import Environment, Service

from .models import Artifact, Deployment, Evidence, GateDecision, SigningKey

DIGEST_RE = r"^sha256:[0-9a-f]{64}$"


class _ServiceField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Service.objects.select_related("owner_team"), **kwargs)


class _EnvironmentField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Environment.objects.select_related("delivery_policy"), **kwargs)


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
                  "signature_status", "signing_key", "created_at"]

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
                  "artifact", "change", "pipeline_run_id", "duration_ms", "created_at"]

    def get_change(self, obj) -> str | None:
        return obj.change.number if obj.change_id else (obj.change_ref or None)


class CommitIn(serializers.Serializer):
    sha = serializers.RegexField(r"^[0-9a-fA-F]{4,40}$")
    authored_at = serializers.DateTimeField()
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class DeploymentIn(serializers.Serializer):
    service = _ServiceField()
    environment = _EnvironmentField()
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
    commits = CommitIn(many=True, required=False, default=list, max_length=1000)

    def validate(self, attrs):
        if not attrs["artifact"] and not attrs["version"]:
            raise serializers.ValidationError({"artifact": ["Give the artifact digest or the version."]})
        return attrs


class DeploymentPatchIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Deployment.Status.choices, required=False)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    pipeline_url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class DeploymentOut(serializers.ModelSerializer):
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")
    artifact = serializers.CharField(source="artifact.digest", default=None)
    change = serializers.SerializerMethodField()
    gate_decision_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Deployment
        fields = ["id", "service", "environment", "artifact", "version", "change", "status", "kind", "started_at",
                  "finished_at", "pipeline_run_id", "pipeline_url", "is_unauthorized", "gate_decision_id",
                  "rollback_of_id", "created_at"]

    def get_change(self, obj) -> dict | None:
        if not obj.change_id:
            return None
        return {"id": obj.change_id, "number": obj.change.number, "state": obj.change.state}


class CommitOut(serializers.Serializer):
    sha = serializers.CharField()
    authored_at = serializers.DateTimeField()
    message = serializers.CharField()


class DeploymentDetailOut(DeploymentOut):
    commits = CommitOut(many=True, read_only=True)

    class Meta(DeploymentOut.Meta):
        fields = [*DeploymentOut.Meta.fields, "commits"]
