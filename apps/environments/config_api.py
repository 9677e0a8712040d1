"""Configuration API (API.md "Environments and configuration"): baselines, observations, drift.

Scopes reuse the existing ones rather than adding a new family: reading is `delivery:read`;
proposing a baseline and resolving drift are decisions about changes (`changes:write`); posting
observations is pipeline work (`delivery:write`)."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.catalog.models import Environment, Service
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import NotAllowed

from . import config_selectors as selectors
from . import config_services as services
from .config_permissions import can_observe, can_read_config, findings_visible_to, get_finding_for_user
from .config_serializers import BaselineIn, BaselineOut, FindingOut, ObservationIn, ObservationOut, ResolveIn
from .models.config import DriftFinding


def _service_env(user, service: str, env: str) -> tuple[Service, Environment]:
    if not can_read_config(user):
        raise NotAllowed("Your account has no role or team in Release Portal.")
    return get_object_or_404(Service, slug=service), get_object_or_404(Environment, slug=env)


@extend_schema(tags=["environments"])
class BaselineApi(PortalAPIView):
    required_scopes = {"GET": "delivery:read", "PUT": "changes:write"}

    @extend_schema(summary="The approved configuration baseline and the pending proposal", responses=BaselineOut)
    def get(self, request, service: str, env: str):
        svc, environment = _service_env(request.user, service, env)
        return Response(BaselineOut(selectors.baseline_summary(service=svc, environment=environment)).data)

    @extend_schema(summary="Propose the next baseline version with a change", request=BaselineIn,
                   responses=BaselineOut)
    def put(self, request, service: str, env: str):
        svc, environment = _service_env(request.user, service, env)
        data_in = BaselineIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        services.baseline_propose(service=svc, environment=environment, change=data_in.validated_data["change"],
                                  settings=data_in.validated_data["settings"], actor=request.user)
        return Response(BaselineOut(selectors.baseline_summary(service=svc, environment=environment)).data)


@extend_schema(tags=["environments"], summary="Report what runs: settings and runtimes, compared with the baseline",
               request=ObservationIn, responses={201: ObservationOut})
class ObservationCreateApi(PortalAPIView):
    required_scopes = {"POST": "delivery:write"}

    def post(self, request):
        data_in = ObservationIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        if not can_observe(request.user, data["service"]):
            raise NotAllowed(f"Only {data['service'].slug}'s team, release managers and pipelines report its "
                             "configuration.", code="not_allowed_for_service")
        observation = services.observation_record(actor=request.user, **data)
        return Response(ObservationOut(observation).data, status=status.HTTP_201_CREATED)


class FindingFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    environment = django_filters.CharFilter(field_name="environment__slug")
    status = django_filters.ChoiceFilter(choices=DriftFinding.Status.choices)
    kind = django_filters.ChoiceFilter(choices=DriftFinding.Kind.choices)
    must_match = django_filters.BooleanFilter()

    class Meta:
        model = DriftFinding
        fields = ["service", "environment", "status", "kind", "must_match"]


@extend_schema(tags=["environments"], summary="Drift findings (filters: service, environment, status, kind, "
                                              "must_match)")
class FindingListApi(PortalListAPIView):
    required_scopes = {"GET": "delivery:read"}
    serializer_class = FindingOut
    filterset_class = FindingFilter

    def get_queryset(self):
        return selectors.findings_list(findings_visible_to(self.request.user))


@extend_schema(tags=["environments"], summary="Resolve a drift finding: reverted or accepted with a change",
               request=ResolveIn, responses=FindingOut)
class FindingResolveApi(PortalAPIView):
    required_scopes = {"POST": "changes:write"}

    def post(self, request, pk: int):
        finding = get_finding_for_user(request.user, pk)
        data_in = ResolveIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        resolved = services.drift_resolve(finding=finding, resolution=data_in.validated_data["resolution"],
                                          change=data_in.validated_data.get("change"), actor=request.user)
        out = selectors.findings_list(findings_visible_to(request.user)).get(pk=resolved.pk)
        return Response(FindingOut(out).data)
