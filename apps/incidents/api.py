"""Incident API (API.md): one view per operation, all under the `incidents` scope."""

from __future__ import annotations

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from releaseportal.api.filters import StrictDateTimeFilter
from releaseportal.api.parsers import PortalFormParser, PortalJSONParser, PortalMultiPartParser
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import NotAllowed

from . import services
from .linking import annotate_links
from .models import Incident, IncidentClassification
from .permissions import can_update, can_write_for_service, get_incident_for_user, incidents_visible_to
from .serializers import (
    AttachmentIn,
    AttachmentOut,
    ClassificationOut,
    IncidentCreateIn,
    IncidentDetailOut,
    IncidentOut,
    IncidentPatchIn,
    RollbackIn,
    RollbackOut,
    UpdateIn,
    UpdateOut,
)

S = Incident.Status


class IncidentFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    team = django_filters.CharFilter(field_name="service__owner_team__slug")
    classification = django_filters.CharFilter(field_name="classification__slug")
    started_after = StrictDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = StrictDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = ["service", "team", "severity", "status", "classification", "started_after", "started_before"]


def _list_queryset(user):
    return annotate_links(
        incidents_visible_to(user).select_related(
            "service", "classification", "commander", "created_by", "link_overridden_by")
    ).order_by("-started_at", "-pk")


def _detail(request, pk) -> Incident:
    qs = _list_queryset(request.user).select_related("review").prefetch_related(
        "updates__author", "attachments__uploaded_by", "rollbacks__recorded_by")
    return get_incident_for_user(request.user, pk, queryset=qs)


def _require_write(user, incident: Incident) -> None:
    if not can_update(user, incident):
        raise NotAllowed("Only the service's team, requesters and release managers update this incident.",
                         code="not_allowed_for_service")


@extend_schema(tags=["incidents"])
class IncidentListCreateApi(PortalListAPIView):
    """GET lists incidents (filters: service, team, severity, status, classification,
    started_after, started_before); POST opens one."""

    scope = "incidents"
    serializer_class = IncidentOut
    filterset_class = IncidentFilter

    def get_queryset(self):
        return _list_queryset(self.request.user)

    @extend_schema(summary="Open an incident", request=IncidentCreateIn, responses={201: IncidentDetailOut})
    def post(self, request):
        data_in = IncidentCreateIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        if not can_write_for_service(request.user, data["service"]):
            raise NotAllowed("Only the service's team, requesters and release managers open incidents for it.",
                             code="not_allowed_for_service")
        incident = services.incident_open(actor=request.user, **data)
        return Response(IncidentDetailOut(_detail(request, incident.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["incidents"])
class IncidentDetailApi(PortalAPIView):
    scope = "incidents"

    @extend_schema(summary="Read an incident with its deployment link", responses=IncidentDetailOut)
    def get(self, request, pk: int):
        return Response(IncidentDetailOut(_detail(request, pk)).data)

    @extend_schema(summary="Update or resolve an incident, or override its link", request=IncidentPatchIn,
                   responses=IncidentDetailOut)
    def patch(self, request, pk: int):
        incident = get_incident_for_user(request.user, pk,
                                         queryset=incidents_visible_to(request.user).select_related("service"))
        _require_write(request.user, incident)
        data_in = IncidentPatchIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = dict(data_in.validated_data)
        with transaction.atomic():
            edits = {k: data.pop(k) for k in services.EDITABLE_FIELDS if k in data}
            if edits:
                incident = services.incident_edit(incident=incident, actor=request.user, **edits)
            reason = data.pop("link_override_reason", "")
            if "caused_by_deployment" in data or "link_suppressed" in data:
                deployment = data.pop("caused_by_deployment", incident.caused_by_deployment)
                suppress = data.pop("link_suppressed", False if deployment else incident.link_suppressed)
                if (deployment != incident.caused_by_deployment or suppress != incident.link_suppressed
                        or reason):
                    incident = services.incident_link_override(incident=incident, actor=request.user,
                                                               reason=reason, deployment=deployment,
                                                               suppress=bool(suppress))
            to_status = data.pop("status", None)
            mitigated_at = data.pop("mitigated_at", None)
            resolved_at = data.pop("resolved_at", None)
            if to_status is None and resolved_at and incident.status in (S.OPEN, S.MITIGATED):
                to_status = S.RESOLVED
            elif to_status is None and mitigated_at and incident.status == S.OPEN:
                to_status = S.MITIGATED
            at = resolved_at if to_status == S.RESOLVED else mitigated_at if to_status == S.MITIGATED else None
            message = data.pop("message", "")
            if to_status == incident.status:
                to_status = None
            if to_status or message.strip():
                services.incident_post_update(incident=incident, actor=request.user, message=message,
                                              to_status=to_status, at=at)
        return Response(IncidentDetailOut(_detail(request, pk)).data)


@extend_schema(tags=["incidents"], summary="Post a status update (optionally changing the status)",
               request=UpdateIn, responses={201: UpdateOut})
class IncidentUpdateCreateApi(PortalAPIView):
    scope = "incidents"

    def post(self, request, pk: int):
        incident = get_incident_for_user(request.user, pk,
                                         queryset=incidents_visible_to(request.user).select_related("service"))
        _require_write(request.user, incident)
        data_in = UpdateIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        update = services.incident_post_update(incident=incident, actor=request.user, message=data["message"],
                                               to_status=data.get("status"), at=data.get("at"))
        return Response(UpdateOut(update).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["incidents"], summary="Record a rollback deployment for the incident",
               request=RollbackIn, responses={201: RollbackOut})
class IncidentRollbackCreateApi(PortalAPIView):
    scope = "incidents"

    def post(self, request, pk: int):
        incident = get_incident_for_user(request.user, pk,
                                         queryset=incidents_visible_to(request.user).select_related("service"))
        _require_write(request.user, incident)
        data_in = RollbackIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        rollback = services.rollback_record(incident=incident, actor=request.user, deployment=data["deployment"],
                                            failed_deployment=data.get("failed_deployment"), note=data["note"])
        return Response(RollbackOut(rollback).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["incidents"], summary="Attach pre-rollback evidence (multipart `file`, or a JSON note)",
               request={"multipart/form-data": AttachmentIn, "application/json": AttachmentIn},
               responses={201: AttachmentOut})
class IncidentAttachmentCreateApi(PortalAPIView):
    scope = "incidents"
    parser_classes = [PortalMultiPartParser, PortalFormParser, PortalJSONParser]

    def post(self, request, pk: int):
        incident = get_incident_for_user(request.user, pk,
                                         queryset=incidents_visible_to(request.user).select_related("service"))
        _require_write(request.user, incident)
        data_in = AttachmentIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        attachment = services.attachment_add(incident=incident, actor=request.user, kind=data["kind"],
                                             upload=data.get("file"), text=data["text"], filename=data["filename"],
                                             description=data["description"])
        return Response(AttachmentOut(attachment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["incidents"], summary="The incident classification taxonomy")
class ClassificationListApi(PortalListAPIView):
    scope = "incidents"
    serializer_class = ClassificationOut
    queryset = IncidentClassification.objects.order_by("name")
