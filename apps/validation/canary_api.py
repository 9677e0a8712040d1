"""API of the canary judge, the first-hour log review and the deployment markers (API.md
"Post-deployment validation"), one view per operation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from releaseportal.api.parsers import PortalJSONParser
from releaseportal.api.views import PortalAPIView
from releaseportal.errors import PortalError

from . import annotations, canary, logreview, permissions

# A first-hour summary of MAX_ENTRIES fingerprints with long messages fits well inside this.
LOG_REVIEW_MAX_BYTES = 2 * 1024 * 1024


class CanaryMetricOut(serializers.Serializer):
    metric = serializers.CharField()
    u = serializers.FloatField()
    p_value = serializers.FloatField()
    method = serializers.ChoiceField(choices=[canary.EXACT, canary.ASYMPTOTIC])
    baseline_median = serializers.FloatField()
    canary_median = serializers.FloatField()
    effect_pct = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField()
    classification = serializers.ChoiceField(choices=[canary.PASS, canary.HIGH, canary.LOW])
    direction = serializers.CharField()
    tolerance_pct = serializers.FloatField()
    baseline_count = serializers.IntegerField()
    canary_count = serializers.IntegerField()


class CanaryAnalysisOut(serializers.Serializer):
    id = serializers.IntegerField()
    deployment = serializers.IntegerField()
    metrics = CanaryMetricOut(many=True)
    method = serializers.CharField()
    alpha = serializers.FloatField()
    score = serializers.FloatField()
    result = serializers.ChoiceField(choices=["pass", "marginal", "fail"])
    pass_score = serializers.FloatField()
    marginal_score = serializers.FloatField()
    created_at = serializers.DateTimeField()


def canary_analysis_body(analysis) -> dict:
    return {"id": analysis.pk, "deployment": analysis.deployment_id, "metrics": analysis.metrics,
            "method": analysis.method, "alpha": (analysis.config or {}).get("alpha", canary.ALPHA),
            "score": analysis.score, "result": analysis.result, "pass_score": analysis.pass_score,
            "marginal_score": analysis.marginal_score, "created_at": analysis.created_at}


@extend_schema(tags=["validation"], request=None, responses={201: CanaryAnalysisOut},
               summary="Compare the canary cohort with the baseline (Mann-Whitney U)")
class CanaryAnalysisApi(PortalAPIView):
    scope = "delivery"

    def post(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk, write=True)
        analysis, _ = canary.canary_analysis_run(deployment=deployment, actor=request.user)
        return Response(CanaryAnalysisOut(canary_analysis_body(analysis)).data, status=status.HTTP_201_CREATED)


class LogEntryIn(serializers.Serializer):
    fingerprint = serializers.CharField(max_length=logreview.MAX_FINGERPRINT)
    message = serializers.CharField(required=False, allow_blank=True)
    count = serializers.IntegerField(min_value=0)
    first_seen = serializers.DateTimeField()


class LogEntryOut(serializers.Serializer):
    fingerprint = serializers.CharField()
    message = serializers.CharField()
    count = serializers.IntegerField()
    first_seen = serializers.DateTimeField()


class LogReviewOut(serializers.Serializer):
    id = serializers.IntegerField()
    deployment = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["open", "signed_off"])
    sign_off_required = serializers.BooleanField()
    total_fingerprints = serializers.IntegerField()
    new_fingerprints = serializers.IntegerField()
    new = LogEntryOut(many=True)
    signed_off_by = serializers.CharField(allow_null=True)
    signed_off_at = serializers.DateTimeField(allow_null=True)


def log_review_body(review) -> dict:
    return {"id": review.pk, "deployment": review.deployment_id, "status": review.status,
            "sign_off_required": review.sign_off_required, "total_fingerprints": review.total_fingerprints,
            "new_fingerprints": review.new_fingerprints,
            "new": [{"fingerprint": fp.fingerprint, "message": fp.message, "count": fp.count,
                     "first_seen": fp.first_seen} for fp in logreview.new_fingerprints(review)],
            "signed_off_by": review.signed_off_by.get_username() if review.signed_off_by_id else None,
            "signed_off_at": review.signed_off_at}


@extend_schema(tags=["validation"], request=LogEntryIn(many=True), responses={201: LogReviewOut, 200: LogReviewOut},
               summary="Post the first-hour log summary (fingerprints with counts)")
class LogReviewApi(PortalAPIView):
    scope = "delivery"
    parser_classes = [PortalJSONParser]

    def post(self, request, pk: int):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > LOG_REVIEW_MAX_BYTES:
            raise PortalError(f"The log summary is larger than {LOG_REVIEW_MAX_BYTES // 1024} KiB.",
                              code="payload_too_large", status=413,
                              fields={"entries": [f"At most {LOG_REVIEW_MAX_BYTES} bytes."]})
        deployment = permissions.get_deployment_for_user(request.user, pk, write=True)
        entries = logreview.clean_entries(request.data)
        review, created = logreview.log_review_record(deployment=deployment, entries=entries, actor=request.user)
        review = type(review).objects.select_related("signed_off_by").get(pk=review.pk)
        return Response(LogReviewOut(log_review_body(review)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AnnotationOut(serializers.Serializer):
    time = serializers.IntegerField(help_text="Milliseconds since the epoch")
    timeEnd = serializers.IntegerField(help_text="Milliseconds since the epoch")  # noqa: N815 (Grafana's name)
    title = serializers.CharField()
    text = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


@extend_schema(tags=["validation"], responses=AnnotationOut(many=True), parameters=[
    OpenApiParameter("from", str, description="Milliseconds since the epoch or ISO 8601 (default: to - 24 h)"),
    OpenApiParameter("to", str, description="Milliseconds since the epoch or ISO 8601 (default: now)"),
    OpenApiParameter("service", str, description="Service slug"),
    OpenApiParameter("environment", str, description="Environment slug")],
               summary="Deployment and rollback markers in Grafana's annotation shape (milliseconds)")
class AnnotationsApi(PortalAPIView):
    scope = "delivery"

    def get(self, request):
        cleaned = annotations.clean_params(request.query_params)
        return Response(annotations.annotations_between(
            start=cleaned["start"], end=cleaned["end"], service_id=cleaned.get("service_id"),
            environment_id=cleaned.get("environment_id")))

