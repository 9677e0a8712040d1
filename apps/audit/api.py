"""Evidence pack API (API.md, "Evidence packs"): auditors only, every download audited."""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import NotAllowed

from .evidence import evidence_pack_open, evidence_pack_request
from .models import EvidencePack, SigningKey
from .permissions import can_use_evidence_packs, evidence_packs_for, get_pack_for_user

PACK_SCOPES = {"GET": "audit:read", "POST": "evidence:write"}


def _require_auditor(user) -> None:
    if not can_use_evidence_packs(user):
        raise NotAllowed("Evidence packs are for auditors.", code="not_an_auditor")


class PackRequestIn(serializers.Serializer):
    scope = serializers.ChoiceField(choices=EvidencePack.Scope.choices)
    change = serializers.CharField(required=False, allow_blank=True, help_text="id or number (scope change)")
    service = serializers.CharField(required=False, allow_blank=True, help_text="slug (release, service_period)")
    version = serializers.CharField(required=False, allow_blank=True, help_text="version deployed (release)")
    control = serializers.CharField(required=False, allow_blank=True, help_text="sox_change_management, hipaa_change_control or pci_dss_6_5_change_control")
    period_start = serializers.CharField(required=False, allow_blank=True, help_text="YYYY-MM-DD")
    period_end = serializers.CharField(required=False, allow_blank=True, help_text="YYYY-MM-DD, inclusive")


class PackOut(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")
    download_url = serializers.SerializerMethodField()
    key_id = serializers.CharField(source="signing_key.key_id", default=None)

    class Meta:
        model = EvidencePack
        fields = ["id", "scope", "title", "parameters", "status", "progress", "error", "requested_by",
                  "requested_at", "started_at", "finished_at", "sha256", "size", "counts", "key_id",
                  "download_url"]

    def get_download_url(self, pack) -> str | None:
        if pack.status != EvidencePack.Status.READY:
            return None
        url = reverse("api-evidence-pack-download", args=[pack.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class SigningKeyOut(serializers.ModelSerializer):
    class Meta:
        model = SigningKey
        fields = ["key_id", "public_key_pem", "is_development", "first_used_at", "retired_at"]


@extend_schema(tags=["evidence"])
class EvidencePackListCreateApi(PortalListAPIView):
    required_scopes = PACK_SCOPES
    serializer_class = PackOut
    filterset_fields = ["status", "scope"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return EvidencePack.objects.none()
        _require_auditor(self.request.user)
        return evidence_packs_for(self.request.user).order_by("-requested_at", "-id")

    @extend_schema(summary="List evidence packs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Request an evidence pack", request=PackRequestIn,
                   responses={202: OpenApiResponse(description="{id, status}")})
    def post(self, request):
        _require_auditor(request.user)
        data = PackRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        pack = evidence_pack_request(scope=values.pop("scope"), data=values, actor=request.user)
        pack.refresh_from_db(fields=["status"])
        return Response({"id": pack.pk, "status": pack.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["evidence"], summary="An evidence pack: status, progress, sha256, download_url",
               responses=PackOut)
class EvidencePackDetailApi(PortalAPIView):
    required_scopes = PACK_SCOPES

    def get(self, request, pk: int):
        pack = get_pack_for_user(request.user, pk)
        return Response(PackOut(pack, context={"request": request}).data)


@extend_schema(tags=["evidence"], summary="Download an evidence pack (ZIP); audited",
               responses={(200, "application/zip"): OpenApiResponse(description="the pack")})
class EvidencePackDownloadApi(PortalAPIView):
    required_scopes = PACK_SCOPES

    def get(self, request, pk: int):
        pack = get_pack_for_user(request.user, pk)
        handle = evidence_pack_open(pack=pack, actor=request.user)
        return FileResponse(handle, as_attachment=True, filename=f"evidence-pack-{pack.pk}.zip",
                            content_type="application/zip")


@extend_schema(tags=["evidence"], summary="Every public key that has signed evidence packs, current and retired")
class SigningKeyListApi(PortalListAPIView):
    required_scopes = {"GET": "audit:read"}
    serializer_class = SigningKeyOut
    queryset = SigningKey.objects.order_by("-first_used_at")
