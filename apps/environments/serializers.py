"""Input and output shapes of the environments API (API.md, "Environments and configuration")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import Environment, Service

from .models import AppliedMigration, MigrationTool, Provision, ProvisionResource


class ProvisionIn(serializers.Serializer):
    tool = serializers.ChoiceField(choices=Provision.Tool.choices)
    repository = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    git_sha = serializers.RegexField(r"^[0-9a-f]{7,40}$", required=False, allow_blank=True, default="")
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Provision.Status.choices)
    change = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True, default="")
    # Checked and read by apps/environments/terraform.py; never stored.
    plan = serializers.JSONField(required=False, allow_null=True, default=None,
                                 help_text="The JSON of `terraform show -json` (OpenTofu: the same)")


class ProvisionResourceOut(serializers.ModelSerializer):
    class Meta:
        model = ProvisionResource
        fields = ["address", "resource_type", "mode", "action"]


class SummaryOut(serializers.Serializer):
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    delete = serializers.IntegerField()
    replace = serializers.IntegerField()
    read = serializers.IntegerField()
    no_op = serializers.IntegerField()


class ProvisionOut(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.slug")
    change = serializers.SerializerMethodField()
    summary = SummaryOut(read_only=True)

    class Meta:
        model = Provision
        fields = ["id", "environment", "tool", "repository", "git_sha", "pipeline_run_id", "status", "change",
                  "has_plan", "plan_format_version", "tool_version", "summary", "is_unauthorized", "created_at"]

    @extend_schema_field({"type": "object", "nullable": True, "properties": {"id": {"type": "integer"},
                                                                           "number": {"type": "string"}}})
    def get_change(self, obj) -> dict | None:
        return {"id": obj.change_id, "number": obj.change.number} if obj.change_id else None


class ProvisionDetailOut(ProvisionOut):
    resources = ProvisionResourceOut(many=True, read_only=True)

    class Meta(ProvisionOut.Meta):
        fields = [*ProvisionOut.Meta.fields, "resources"]


class AppliedMigrationIn(serializers.Serializer):
    version = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    checksum = serializers.CharField(max_length=128)
    status = serializers.ChoiceField(choices=AppliedMigration.Status.choices, default=AppliedMigration.Status.SUCCESS)
    applied_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MigrationsAppliedIn(serializers.Serializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    environment = serializers.SlugRelatedField(slug_field="slug", queryset=Environment.objects.all())
    tool = serializers.ChoiceField(choices=MigrationTool.choices)
    pipeline_run_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    migrations = AppliedMigrationIn(many=True, allow_empty=False, max_length=5000)


class AppliedMigrationOut(serializers.ModelSerializer):
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")

    class Meta:
        model = AppliedMigration
        fields = ["id", "service", "environment", "tool", "version", "description", "checksum", "status",
                  "applied_at", "pipeline_run_id", "created_at"]


class MigrationsRecordedOut(serializers.Serializer):
    recorded = AppliedMigrationOut(many=True)
    duplicates = serializers.IntegerField()
