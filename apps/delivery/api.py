"""The delivery API: artifacts, evidence, the gate, deployments (API.md), one view per operation."""

from __future__ import annotations

import json

import django_filters
from django.conf import settings
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.accounts.models import Team
from releaseportal.api.filters import StrictDateTimeFilter
from releaseportal.api.parsers import PortalFormParser, PortalJSONParser, PortalMultiPartParser
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, NotFound

from . import permissions, selectors, services
from .models import Artifact, Deployment, Evidence, GateDecision, SigningKey
from .serializers import (
    ArtifactDetailOut,
    ArtifactIn,
    ArtifactOut,
    DeploymentDetailOut,
    DeploymentIn,
    DeploymentOut,
    DeploymentPatchIn,
    EvidenceFileIn,
    EvidenceJsonIn,
    EvidenceOut,
    GateCheckIn,
    GateDecisionOut,
    TeamSigningKeyIn,
    TeamSigningKeyOut,
)


def _artifact_for(digest: str, service_slug: str | None = None) -> Artifact:
    service = None
    if service_slug:
        from apps.catalog.models import Service

        service = Service.objects.filter(slug=service_slug).first()
        if service is None:
            raise NotFound(f"No service {service_slug}.")
    artifact = selectors.artifact_by_digest(digest, service=service)
    if artifact is None:
        if service is None and selectors.artifact_digest_ambiguous(digest):
            raise Conflict("Several services registered this digest; name the service.", code="artifact_ambiguous",
                           fields={"service": ["required for this digest"]})
        raise NotFound(f"No artifact {digest}.", code="artifact_unknown")
    return artifact


# --- artifacts ------------------------------------------------------------------------------

class ArtifactFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    created_after = StrictDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Artifact
        fields = ["service", "version", "digest", "git_sha", "signature_status", "format"]


@extend_schema(tags=["delivery"])
class ArtifactsApi(PortalListAPIView):
    """GET lists artifacts; POST registers one (immutable: API.md)."""

    scope = "delivery"
    serializer_class = ArtifactOut
    filterset_class = ArtifactFilter
    queryset = selectors.artifacts_list().order_by("-created_at", "-id")

    @extend_schema(request=ArtifactIn, responses={
        201: ArtifactOut, 200: ArtifactOut,
        422: OpenApiResponse(description="format_not_allowed: the organisation's artifact standard does not allow "
                                         "this packaging format (the error names the field `format`)")},
        summary="Register an artifact")
    def post(self, request):
        data = ArtifactIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.artifact_register(actor=request.user, **data.validated_data)
        return Response(ArtifactOut(result.artifact).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema(tags=["delivery"], summary="An artifact with its evidence", responses=ArtifactDetailOut)
class ArtifactDetailApi(PortalAPIView):
    scope = "delivery"

    def get(self, request, digest: str):
        artifact = _artifact_for(digest, request.query_params.get("service"))
        artifact = Artifact.objects.select_related("service", "signing_key").prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.order_by("-created_at"))).get(pk=artifact.pk)
        return Response(ArtifactDetailOut(artifact).data)


@extend_schema(tags=["delivery"], summary="Attach evidence to an artifact", request=EvidenceJsonIn,
               responses={201: EvidenceOut})
class EvidenceCreateApi(PortalAPIView):
    scope = "delivery"
    parser_classes = [PortalJSONParser, PortalMultiPartParser, PortalFormParser]
    max_body_bytes = settings.EVIDENCE_MAX_BYTES + 64 * 1024

    def post(self, request, digest: str):
        # Refuse an oversized body before reading it (JSON documents arrive inline).
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.EVIDENCE_MAX_BYTES + 64 * 1024:
            services.evidence_check_size(length)
        if request.content_type.startswith("multipart/"):
            data = EvidenceFileIn(data=request.data)
            data.is_valid(raise_exception=True)
            upload = data.validated_data["file"]
            services.evidence_check_size(upload.size)
            raw, filename = upload.read(), upload.name
        else:
            data = EvidenceJsonIn(data=request.data)
            data.is_valid(raise_exception=True)
            document = data.validated_data["document"]
            if isinstance(document, str):
                raw = document.encode()
            elif isinstance(document, dict):
                raw = json.dumps(document, separators=(",", ":")).encode()
            else:
                raise InvalidInput("document must be a JSON object (or text for logs).",
                                   fields={"document": ["expected an object"]})
            filename = ""
        artifact = _artifact_for(digest, data.validated_data.get("service"))
        evidence = services.evidence_attach(artifact=artifact, kind=data.validated_data["kind"], data=raw,
                                            filename=filename, actor=request.user,
                                            pipeline_run_id=data.validated_data["pipeline_run_id"])
        return Response(EvidenceOut(evidence).data, status=status.HTTP_201_CREATED)


# --- signing keys ---------------------------------------------------------------------------

@extend_schema(tags=["delivery"])
class SigningKeysApi(PortalListAPIView):
    """GET lists public keys; POST registers one for a team (Ed25519 or ECDSA P-256, PEM)."""

    scope = "delivery"
    serializer_class = TeamSigningKeyOut
    queryset = SigningKey.objects.select_related("team").order_by("team__slug", "name")
    filterset_fields = ["is_active", "algorithm"]

    @extend_schema(request=TeamSigningKeyIn, responses={201: TeamSigningKeyOut}, summary="Register a team's public key")
    def post(self, request):
        data = TeamSigningKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        team = Team.objects.filter(slug=data.validated_data["team"]).first()
        if team is None:
            raise NotFound("No such team.")
        if not permissions.can_register_key(request.user, team):
            raise NotAllowed("Only the team's members register its keys.", code="not_team_member")
        key = services.signing_key_register(team=team, name=data.validated_data["name"],
                                            public_key_pem=data.validated_data["public_key_pem"], actor=request.user)
        return Response(TeamSigningKeyOut(key).data, status=status.HTTP_201_CREATED)


# --- gate -----------------------------------------------------------------------------------

@extend_schema(tags=["delivery"], summary="May this artifact be deployed now?", request=GateCheckIn,
               responses=GateDecisionOut)
class GateCheckApi(PortalAPIView):
    scope = "delivery"

    def post(self, request):
        data = GateCheckIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        decision = services.gate_check(service=v["service"], environment=v["environment"], artifact_ref=v["artifact"],
                                       change_ref=v["change"], actor=request.user,
                                       pipeline_run_id=v["pipeline_run_id"],
                                       pipeline_template=v["pipeline_template"],
                                       pipeline_template_version=v["pipeline_template_version"],
                                       shared_resources=v["shared_resources"])
        return Response(GateDecisionOut(decision).data)


class GateDecisionFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    environment = django_filters.CharFilter(field_name="environment__slug")
    change = django_filters.NumberFilter(field_name="change_id")
    created_after = StrictDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = StrictDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = GateDecision
        fields = ["service", "environment", "decision", "change"]


@extend_schema(tags=["delivery"], summary="Recorded gate decisions")
class GateDecisionListApi(PortalListAPIView):
    scope = "delivery"
    serializer_class = GateDecisionOut
    filterset_class = GateDecisionFilter
    queryset = selectors.gate_decisions_list().order_by("-created_at", "-id")


# --- deployments ----------------------------------------------------------------------------

class DeploymentFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    environment = django_filters.CharFilter(field_name="environment__slug")
    finished_after = StrictDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = StrictDateTimeFilter(field_name="finished_at", lookup_expr="lt")
    change = django_filters.NumberFilter(field_name="change_id")

    class Meta:
        model = Deployment
        fields = ["service", "environment", "status", "kind", "is_unauthorized", "change"]


@extend_schema(tags=["delivery"])
class DeploymentsApi(PortalListAPIView):
    """GET lists deployments (filters of API.md); POST records one with its commits."""

    scope = "delivery"
    serializer_class = DeploymentOut
    filterset_class = DeploymentFilter
    queryset = Deployment.objects.select_related("service", "environment", "artifact", "change").order_by(
        "-started_at", "-id")

    @extend_schema(request=DeploymentIn, responses={
        201: DeploymentOut,
        409: OpenApiResponse(description="resource_locked: a shared resource named in shared_resources is held by "
                                         "another running deployment (the error names the resource and the holder); "
                                         "nothing is recorded")},
        summary="Record a deployment")
    def post(self, request):
        data = DeploymentIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        service, environment = v["service"], v["environment"]
        artifact = None
        if v["artifact"]:
            artifact = selectors.artifact_by_digest(v["artifact"], service=service)
            if artifact is None:
                raise InvalidInput(f"No artifact {v['artifact']} is registered for {service.slug}.",
                                   code="artifact_unknown", fields={"artifact": ["unknown"]})
        change = None
        if v["change"]:
            change = selectors.change_by_ref(v["change"])
            if change is None:
                raise InvalidInput(f"No change request {v['change']}.", code="change_unknown",
                                   fields={"change": ["unknown"]})
        rollback_of = None
        if v["rollback_of"]:
            rollback_of = Deployment.objects.filter(pk=v["rollback_of"], service=service).first()
            if rollback_of is None:
                raise InvalidInput("rollback_of names no deployment of this service.", fields={"rollback_of": ["unknown"]})
        deployment = services.deployment_record(
            service=service, environment=environment, artifact=artifact, version=v["version"], change=change,
            status=v["status"], kind=v["kind"], started_at=v["started_at"], finished_at=v["finished_at"],
            pipeline_run_id=v["pipeline_run_id"], pipeline_url=v["pipeline_url"], commits=v["commits"],
            rollback_of=rollback_of, actor=request.user, pipeline_template=v["pipeline_template"],
            pipeline_template_version=v["pipeline_template_version"], shared_resources=v["shared_resources"],
        )
        return Response(DeploymentOut(deployment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["delivery"])
class DeploymentDetailApi(PortalAPIView):
    """GET one deployment with its commits; PATCH its status and finished_at."""

    scope = "delivery"

    @extend_schema(responses=DeploymentDetailOut, summary="A deployment with its commits")
    def get(self, request, pk: int):
        return Response(DeploymentDetailOut(permissions.get_deployment_for_user(request.user, pk)).data)

    @extend_schema(request=DeploymentPatchIn, responses=DeploymentOut, summary="Update a deployment's status")
    def patch(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk)
        data = DeploymentPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_update(deployment=deployment, actor=request.user, **data.validated_data)
        return Response(DeploymentOut(deployment).data)
