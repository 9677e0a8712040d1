"""The pipeline template registry API: list and create templates, propose, approve and deprecate
versions, and a service's adoption. Reads need `delivery:read`, writes `delivery:write`; who may
write what is decided in templates_services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.delivery.selectors import change_by_ref
from releaseportal.api.views import PortalAPIView
from releaseportal.errors import InvalidInput, NotFound

from . import templates_services as services
from .models import PipelineTemplate, PipelineTemplateVersion, TemplateEnforcement

SCOPES = {"GET": "delivery:read", "POST": "delivery:write", "PUT": "delivery:write"}


class TemplateVersionOut(serializers.Serializer):
    version = serializers.CharField()
    status = serializers.CharField()
    required_stages = serializers.ListField(child=serializers.CharField())
    required_evidence_kinds = serializers.ListField(child=serializers.CharField())
    required_gate_calls = serializers.ListField(child=serializers.CharField())
    change = serializers.CharField(source="change.number", default=None)
    approved_at = serializers.DateTimeField(allow_null=True)
    deprecated_at = serializers.DateTimeField(allow_null=True)
    adopted_by = serializers.SerializerMethodField()

    def get_adopted_by(self, obj) -> list[str]:
        return [adoption.service.slug for adoption in obj.adoptions.all()]


class TemplateOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    owner_team = serializers.CharField(source="owner_team.slug", default=None)
    enforcement = serializers.CharField()
    versions = TemplateVersionOut(many=True)


class TemplateIn(serializers.Serializer):
    slug = serializers.SlugField(max_length=60)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    owner_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                                              allow_null=True, default=None)
    enforcement = serializers.ChoiceField(choices=TemplateEnforcement.choices,
                                          default=TemplateEnforcement.DENY_IN_PRODUCTION)


class TemplateVersionIn(serializers.Serializer):
    version = serializers.CharField(max_length=40)
    change = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    required_stages = serializers.JSONField(required=False, default=list)
    required_evidence_kinds = serializers.JSONField(required=False, default=list)
    required_gate_calls = serializers.JSONField(required=False, default=list)


class AdoptionIn(serializers.Serializer):
    template = serializers.SlugField(max_length=60)
    version = serializers.CharField(max_length=40)


class AdoptionOut(serializers.Serializer):
    service = serializers.CharField(source="service.slug")
    template = serializers.CharField(source="version.template.slug")
    version = serializers.CharField(source="version.version")
    status = serializers.CharField(source="version.status")
    adopted_at = serializers.DateTimeField()


def _template(slug: str) -> PipelineTemplate:
    template = PipelineTemplate.objects.filter(slug=slug).first()
    if template is None:
        raise NotFound(f"No pipeline template {slug}.")
    return template


def _version(slug: str, version: str) -> PipelineTemplateVersion:
    row = services.template_version_get(slug=slug, version=version)
    if row is None:
        raise NotFound(f"No pipeline template version {slug}@{version}.")
    return row


def _with_adoptions(row: PipelineTemplateVersion) -> PipelineTemplateVersion:
    return (PipelineTemplateVersion.objects.select_related("template", "change")
            .prefetch_related("adoptions__service").get(pk=row.pk))


@extend_schema(tags=["releases"])
class TemplatesApi(PortalAPIView):
    required_scopes = SCOPES

    @extend_schema(responses=TemplateOut(many=True), summary="The pipeline template registry with versions")
    def get(self, request):
        return Response(TemplateOut(services.templates_registry(), many=True).data)

    @extend_schema(request=TemplateIn, responses={201: TemplateOut}, summary="Register a pipeline template")
    def post(self, request):
        data = TemplateIn(data=request.data)
        data.is_valid(raise_exception=True)
        template = services.template_create(actor=request.user, **data.validated_data)
        return Response(TemplateOut(services.templates_registry().get(pk=template.pk)).data,
                        status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"], request=TemplateVersionIn, responses={201: TemplateVersionOut},
               summary="Propose a template version, governed by a change")
class TemplateVersionsApi(PortalAPIView):
    required_scopes = SCOPES

    def post(self, request, slug: str):
        template = _template(slug)
        data = TemplateVersionIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        change = change_by_ref(v["change"]) if v["change"] else None
        if v["change"] and change is None:
            raise InvalidInput(f"No change request {v['change']}.", fields={"change": ["unknown change"]})
        row = services.template_version_propose(
            template=template, version=v["version"], change=change, actor=request.user,
            required_stages=v["required_stages"], required_evidence_kinds=v["required_evidence_kinds"],
            required_gate_calls=v["required_gate_calls"])
        return Response(TemplateVersionOut(_with_adoptions(row)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"], request=None, responses=TemplateVersionOut,
               summary="Approve a template version (its change must be approved)")
class TemplateVersionApproveApi(PortalAPIView):
    required_scopes = SCOPES

    def post(self, request, slug: str, version: str):
        row = services.template_version_approve(version=_version(slug, version), actor=request.user)
        return Response(TemplateVersionOut(_with_adoptions(row)).data)


@extend_schema(tags=["releases"], request=None, responses=TemplateVersionOut, summary="Deprecate a template version")
class TemplateVersionDeprecateApi(PortalAPIView):
    required_scopes = SCOPES

    def post(self, request, slug: str, version: str):
        row = services.template_version_deprecate(version=_version(slug, version), actor=request.user)
        return Response(TemplateVersionOut(_with_adoptions(row)).data)


@extend_schema(tags=["releases"], request=AdoptionIn, responses=AdoptionOut,
               summary="Adopt an approved template version for a service")
class ServiceTemplateApi(PortalAPIView):
    required_scopes = SCOPES

    def put(self, request, service: str):
        target = Service.objects.filter(slug=service).first()
        if target is None:
            raise NotFound(f"No service {service}.")
        data = AdoptionIn(data=request.data)
        data.is_valid(raise_exception=True)
        adoption = services.template_adopt(service=target, version=_version(data.validated_data["template"],
                                                                             data.validated_data["version"]),
                                           actor=request.user)
        return Response(AdoptionOut(adoption).data)
