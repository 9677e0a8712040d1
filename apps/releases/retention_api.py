"""The artifact repository's keep/purge list (retention.py), for Artifactory, Harbor or ECR
lifecycle rules: purge the digests listed `purge`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView
from releaseportal.errors import InvalidInput

from .retention import KEEP, PURGE, artifact_retention, storage_freed


class RetentionItemOut(serializers.Serializer):
    digest = serializers.CharField()
    service = serializers.CharField()
    version = serializers.CharField()
    format = serializers.CharField()
    decision = serializers.ChoiceField(choices=[KEEP, PURGE])
    reason = serializers.CharField(help_text="legal_hold, production_retention, production_retention_ended, "
                                             "deployed, recent_build or unpromoted_expired")
    detail = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, when the pipeline reported it")
    keep_until = serializers.DateTimeField(allow_null=True)


class StorageFreedOut(serializers.Serializer):
    bytes = serializers.IntegerField()
    artifacts = serializers.IntegerField()
    artifacts_of_unknown_size = serializers.IntegerField()


class RetentionOut(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    unpromoted_days = serializers.IntegerField()
    total_storage_freed = serializers.IntegerField(help_text="Bytes the purge list frees (known sizes)")
    storage_freed = StorageFreedOut()
    artifacts = RetentionItemOut(many=True)


@extend_schema(
    tags=["releases"], responses=RetentionOut, summary="Artifact retention: the keep/purge list",
    description="Every registered artifact with keep or purge and why: legal holds win; artifacts deployed to "
                "production are kept for their service's compliance-scope retention (audit retention policies of "
                "the `artifact` record class) from their last production deployment; builds never promoted to "
                "production expire ARTIFACT_UNPROMOTED_DAYS after registration; a build running now is kept.",
    parameters=[OpenApiParameter("service", str, description="Only this service's artifacts"),
                OpenApiParameter("decision", str, enum=[KEEP, PURGE], description="Only keep or only purge")])
class ArtifactRetentionApi(PortalAPIView):
    scope = "delivery"

    def get(self, request):
        from django.conf import settings
        from django.utils import timezone

        wanted = request.query_params.get("decision") or ""
        if wanted not in ("", KEEP, PURGE):
            raise InvalidInput("decision is keep or purge.", fields={"decision": ["keep or purge"]})
        now = timezone.now()
        decisions = artifact_retention(now=now, service=request.query_params.get("service") or None)
        freed = storage_freed(decisions)
        if wanted:
            decisions = [d for d in decisions if d.decision == wanted]
        return Response(RetentionOut({
            "generated_at": now, "unpromoted_days": settings.ARTIFACT_UNPROMOTED_DAYS,
            "total_storage_freed": freed["bytes"], "storage_freed": freed, "artifacts": decisions}).data)
