from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.delivery.models import Deployment

from .models import (
    Incident,
    IncidentAttachment,
    IncidentClassification,
    IncidentRollback,
    IncidentUpdate,
)


class ClassificationOut(serializers.ModelSerializer):
    class Meta:
        model = IncidentClassification
        fields = ["slug", "name", "is_release_related"]


class IncidentOut(serializers.ModelSerializer):
    """An incident with its deployment link. Querysets must come through linking.annotate_links."""

    reference = serializers.CharField(read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    classification = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    commander = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    link_overridden_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    linked_deployment = serializers.IntegerField(source="linked_deployment_id", read_only=True, allow_null=True)
    link = serializers.CharField(source="link_kind", read_only=True, allow_null=True,
                                 help_text='"explicit", "inferred" or null (METRICS.md)')

    class Meta:
        model = Incident
        fields = ["id", "reference", "service", "title", "description", "severity", "status", "classification",
                  "commander", "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at",
                  "caused_by_deployment", "linked_deployment", "link", "link_suppressed", "link_override_reason",
                  "link_overridden_by", "link_overridden_at", "created_by", "created_at"]


class UpdateOut(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentUpdate
        fields = ["id", "kind", "from_status", "to_status", "message", "author", "created_at"]


class AttachmentOut(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentAttachment
        fields = ["id", "kind", "filename", "content_type", "size", "sha256", "description", "uploaded_by",
                  "uploaded_at"]


class RollbackOut(serializers.ModelSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentRollback
        fields = ["id", "incident", "deployment", "failed_deployment", "runbook", "note", "recorded_by", "recorded_at"]


class IncidentDetailOut(IncidentOut):
    updates = UpdateOut(many=True, read_only=True)
    attachments = AttachmentOut(many=True, read_only=True)
    rollbacks = RollbackOut(many=True, read_only=True)
    review = serializers.SerializerMethodField()

    class Meta(IncidentOut.Meta):
        fields = [*IncidentOut.Meta.fields, "updates", "attachments", "rollbacks", "review"]

    def get_review(self, obj) -> dict | None:
        review = getattr(obj, "review", None) if hasattr(obj, "review") else None
        if review is None:
            return {"required": obj.review_required, "status": None, "due_date": None}
        return {"required": obj.review_required, "id": review.pk, "status": review.status,
                "due_date": review.due_date.isoformat()}


_deployments = Deployment.objects.all()
_users = User.objects.filter(is_active=True)


class IncidentCreateIn(serializers.Serializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.filter(is_active=True))
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    classification = serializers.SlugRelatedField(slug_field="slug", queryset=IncidentClassification.objects.all(),
                                                  required=False, allow_null=True)
    commander = serializers.SlugRelatedField(slug_field="username", queryset=_users, required=False, allow_null=True)
    started_at = serializers.DateTimeField()
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    acknowledged_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    caused_by_deployment = serializers.PrimaryKeyRelatedField(queryset=_deployments, required=False, allow_null=True)


class IncidentPatchIn(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False)
    classification = serializers.SlugRelatedField(slug_field="slug", queryset=IncidentClassification.objects.all(),
                                                  required=False, allow_null=True)
    commander = serializers.SlugRelatedField(slug_field="username", queryset=_users, required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    acknowledged_at = serializers.DateTimeField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    mitigated_at = serializers.DateTimeField(required=False)
    resolved_at = serializers.DateTimeField(required=False)
    message = serializers.CharField(required=False, allow_blank=True, help_text="Posted on the status timeline")
    caused_by_deployment = serializers.PrimaryKeyRelatedField(queryset=_deployments, required=False, allow_null=True,
                                                              help_text="Override the link (needs link_override_reason)")
    link_suppressed = serializers.BooleanField(required=False, help_text="Override: no deployment caused this")
    link_override_reason = serializers.CharField(required=False, allow_blank=True)


class UpdateIn(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    at = serializers.DateTimeField(required=False, help_text="When the status changed (defaults to now)")


class RollbackIn(serializers.Serializer):
    deployment = serializers.PrimaryKeyRelatedField(queryset=_deployments, help_text="The deployment of kind rollback")
    failed_deployment = serializers.PrimaryKeyRelatedField(queryset=_deployments, required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AttachmentIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IncidentAttachment.Kind.choices)
    file = serializers.FileField(required=False, allow_empty_file=True)
    text = serializers.CharField(required=False, allow_blank=True, default="", help_text="A note, stored as text")
    filename = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
