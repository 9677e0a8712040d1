"""The environments API: provisioning records and applied schema migrations (API.md), one view
per operation. Writes need `delivery:write`, like every pipeline report."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from apps.delivery.selectors import change_by_ref
from releaseportal.api.filters import StrictDateTimeFilter
from releaseportal.api.parsers import PortalJSONParser
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import InvalidInput, NotFound

from . import permissions, selectors, services, terraform
from .models import AppliedMigration, Provision
from .serializers import (
    AppliedMigrationOut,
    MigrationsAppliedIn,
    MigrationsRecordedOut,
    ProvisionDetailOut,
    ProvisionIn,
    ProvisionOut,
)

# Room for the run's other fields (tool, repository, sha, change...) beside the plan.
_OTHER_FIELDS_BYTES = 4096


class BoundedJSONParser(PortalJSONParser):
    """A plan is untrusted: a body past the plan limit is refused before it is parsed, and a
    nesting deep enough to exhaust the parser is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if length > terraform.MAX_PLAN_BYTES + _OTHER_FIELDS_BYTES:
            raise terraform.refused(f"larger than {terraform.MAX_PLAN_BYTES} bytes")
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


def _change(ref) -> object | None:
    if not ref:
        return None
    change = change_by_ref(ref)
    if change is None:
        raise InvalidInput(f"No change request {ref}.", code="change_unknown", fields={"change": ["unknown"]})
    return change


class ProvisionFilter(django_filters.FilterSet):
    created_after = StrictDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = StrictDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Provision
        fields = ["tool", "status", "is_unauthorized"]


@extend_schema(tags=["environments"])
class ProvisionsApi(PortalListAPIView):
    """GET lists an environment's provisioning runs; POST records one (with its parsed plan)."""

    scope = "delivery"
    serializer_class = ProvisionOut
    filterset_class = ProvisionFilter
    parser_classes = [BoundedJSONParser]

    def _environment(self):
        return permissions.get_environment_for_user(self.request.user, self.kwargs["env"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Provision.objects.none()
        return selectors.provisions_list().filter(environment=self._environment())

    @extend_schema(request=ProvisionIn, responses={201: ProvisionOut}, summary="Record an infrastructure-as-code run")
    def post(self, request, env: str):
        environment = self._environment()
        data = ProvisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        provision = services.provision_record(
            environment=environment, tool=v["tool"], status=v["status"], repository=v["repository"],
            git_sha=v["git_sha"], pipeline_run_id=v["pipeline_run_id"], change=_change(v["change"]), plan=v["plan"],
            actor=request.user)
        return Response(ProvisionOut(provision).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["environments"], summary="A provisioning run with the addresses it touched",
               responses=ProvisionDetailOut)
class ProvisionDetailApi(PortalAPIView):
    scope = "delivery"

    def get(self, request, env: str, pk: int):
        provision = permissions.get_provision_for_user(request.user, pk)
        if provision.environment.slug != env:
            raise NotFound("No such provisioning record.")
        return Response(ProvisionDetailOut(provision).data)


class AppliedMigrationFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug")
    environment = django_filters.CharFilter(field_name="environment__slug")

    class Meta:
        model = AppliedMigration
        fields = ["service", "environment", "version", "status", "tool"]


@extend_schema(tags=["environments"])
class MigrationsAppliedApi(PortalListAPIView):
    """GET lists applied migrations; POST records what a pipeline applied (idempotent per version
    and checksum; another checksum for an applied version: 409 migration_checksum_mismatch)."""

    scope = "delivery"
    serializer_class = AppliedMigrationOut
    filterset_class = AppliedMigrationFilter
    queryset = selectors.applied_migrations_list()

    @extend_schema(request=MigrationsAppliedIn, responses={201: MigrationsRecordedOut, 200: MigrationsRecordedOut},
                   summary="Record applied schema migrations")
    def post(self, request):
        data = MigrationsAppliedIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = services.migrations_record(service=v["service"], environment=v["environment"], tool=v["tool"],
                                            migrations=v["migrations"], pipeline_run_id=v["pipeline_run_id"],
                                            actor=request.user)
        body = {"recorded": AppliedMigrationOut(result.created, many=True).data, "duplicates": result.duplicates}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
