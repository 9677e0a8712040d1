from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema

from releaseportal.api.views import PortalListAPIView

from .models import Environment, Service
from .serializers import EnvironmentOut, ServiceOut


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
