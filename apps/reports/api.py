from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView
from releaseportal.dbrouter import replica_reads
from releaseportal.errors import InvalidInput

from .periods import Month
from .permissions import check_scope
from .scopes import resolve_scope
from .snapshots import cached_report


def _default_month() -> Month:
    from django.utils import timezone

    from .periods import report_timezone

    return Month.containing(timezone.now(), report_timezone()).previous()


@extend_schema(
    tags=["reports"], summary="DORA metrics for a month (organisation, team or service)",
    parameters=[
        OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM in the report timezone; default: last month"),
        OpenApiParameter("team", OpenApiTypes.STR, description="team slug"),
        OpenApiParameter("service", OpenApiTypes.STR, description="service slug"),
    ],
    responses={200: OpenApiTypes.OBJECT},
)
class DoraReportApi(PortalAPIView):
    """Definitions: METRICS.md. Durations in seconds, rates as fractions of 1. Team leads read
    the teams they lead (and their services); the organisation and other teams are refused."""

    scope = "reports"

    def get(self, request):
        params = request.query_params
        unknown = sorted(set(params) - {"month", "team", "service", "format"})
        if unknown:
            raise InvalidInput("Unknown query parameters: " + ", ".join(unknown) + ".", code="invalid",
                               fields={name: ["Unknown parameter."] for name in unknown})
        errors: dict[str, list[str]] = {}
        month = scope = None
        try:
            month = Month.parse(params["month"]) if "month" in params else _default_month()
        except InvalidInput as exc:
            errors.update(exc.fields)
        try:
            scope = resolve_scope(team=params.get("team") or None, service=params.get("service") or None)
        except InvalidInput as exc:
            errors.update(exc.fields)
        if errors:
            raise InvalidInput("Invalid input: " + ", ".join(errors) + ".", code="validation_error", fields=errors)
        check_scope(request.user, scope)
        # Closed months come from their snapshots; the open month is computed live.
        with replica_reads():  # showing figures: the read replica may serve them
            report = cached_report(month, scope, trend_months=1, breakdown=False)
        return Response(report.summary())
