from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import NotAllowed

from .models import Environment, Service
from .permissions import can_edit_service, get_service_for_user
from .serializers import EnvironmentOut, ServiceOut, ServiceUpdateIn
from .services import service_update


class ServiceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="owner_team__slug")
    scope = django_filters.CharFilter(method="filter_scope")

    class Meta:
        model = Service
        fields = ["team", "tier", "is_active"]

    def filter_scope(self, queryset, name, value):
        return queryset.filter(compliance_scopes__icontains=f'"{value}"')


@extend_schema(tags=["catalog"], summary="List services")
class ServiceListApi(PortalListAPIView):
    scope = "catalog"
    serializer_class = ServiceOut
    filterset_class = ServiceFilter
    queryset = Service.objects.select_related("owner_team").order_by("slug")


@extend_schema(tags=["catalog"], summary="List environments in promotion order")
class EnvironmentListApi(PortalListAPIView):
    scope = "catalog"
    serializer_class = EnvironmentOut
    queryset = Environment.objects.order_by("order")
    filterset_fields = ["is_production"]


@extend_schema(tags=["catalog"], summary="Read or edit a service", request=ServiceUpdateIn, responses=ServiceOut)
class ServiceDetailApi(PortalAPIView):
    scope = "catalog"

    def get(self, request, slug: str):
        return Response(ServiceOut(get_service_for_user(request.user, slug)).data)

    def patch(self, request, slug: str):
        service = get_service_for_user(request.user, slug)
        if not can_edit_service(request.user, service):
            raise NotAllowed("You may not edit this service.", code="not_service_admin")
        data = ServiceUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        service = service_update(service=service, actor=request.user, **data.validated_data)
        return Response(ServiceOut(service).data)
