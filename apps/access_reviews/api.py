"""Access API (API.md § Access): one view per operation."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.accounts.models import User
from apps.catalog.models import Environment, Service
from releaseportal.api.pagination import PortalPagination
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import InvalidInput, NotAllowed

from . import permissions, selectors, services
from .serializers import (
    CampaignListOut,
    CompletionOut,
    DecisionIn,
    GrantIn,
    GrantOut,
    ItemOut,
    ReportOut,
    RevokeIn,
)

ACCESS_SCOPES = {"GET": "access:read", "POST": "access:write"}


def _bool(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{name} must be true or false.", fields={name: ["true or false"]})


def _require_manager(user) -> None:
    if not permissions.can_manage_access(user):
        raise NotAllowed("Only access admins manage privileges.", code="not_an_access_admin")


@extend_schema(tags=["access"], summary="List privileges held", parameters=[
    OpenApiParameter("user", str), OpenApiParameter("service", str), OpenApiParameter("environment", str),
    OpenApiParameter("privilege", str), OpenApiParameter("active", bool), OpenApiParameter("flagged", bool)])
class GrantListApi(PortalListAPIView):
    required_scopes = ACCESS_SCOPES
    serializer_class = GrantOut
    filter_backends: list = []

    def get_queryset(self):
        params = self.request.query_params
        return selectors.grants_list(
            permissions.grants_visible_to(self.request.user), user=params.get("user", ""),
            service=params.get("service", ""), environment=params.get("environment", ""),
            privilege=params.get("privilege", ""), active=_bool(params.get("active"), "active"),
            flagged=bool(_bool(params.get("flagged"), "flagged")))

    @extend_schema(request=GrantIn, responses={201: GrantOut}, summary="Grant a privilege (access admins)")
    def post(self, request):
        _require_manager(request.user)
        data = GrantIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        fields = {}
        user = User.objects.filter(username=v["user"]).first()
        service = Service.objects.filter(slug=v["service"]).first()
        environment = Environment.objects.filter(slug=v["environment"]).first()
        for name, obj in (("user", user), ("service", service), ("environment", environment)):
            if obj is None:
                fields[name] = [f"No {name} '{v[name]}'."]
        if fields:
            raise InvalidInput("Unknown " + ", ".join(fields) + ".", fields=fields)
        grant = services.grant_create(user=user, privilege=v["privilege"], service=service, environment=environment,
                                      justification=v["justification"], expires_at=v.get("expires_at"),
                                      actor=request.user)
        return Response(GrantOut(grant).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["access"], request=RevokeIn, responses={200: GrantOut},
               summary="Revoke a grant; the privilege is gone at once")
class GrantRevokeApi(PortalAPIView):
    required_scopes = ACCESS_SCOPES

    def post(self, request, pk: int):
        grant = permissions.get_grant_for_user(request.user, pk)
        _require_manager(request.user)
        data = RevokeIn(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.grant_revoke(grant=grant, reason=data.validated_data["reason"], actor=request.user)
        return Response(GrantOut(grant).data)


@extend_schema(tags=["access"], summary="List review campaigns", parameters=[OpenApiParameter("status", str)])
class CampaignListApi(PortalListAPIView):
    required_scopes = ACCESS_SCOPES
    serializer_class = CampaignListOut
    filter_backends: list = []

    def get_queryset(self):
        qs = selectors.campaigns_with_counts(permissions.campaigns_visible_to(self.request.user))
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs


class ItemPagination(PortalPagination):
    page_size = 100


@extend_schema(tags=["access"], summary="A campaign: status, completion, items (paginated: ?page=)",
               parameters=[OpenApiParameter("decision", str, description="open | keep | revoke | keep_until"),
                           OpenApiParameter("reviewer", str), OpenApiParameter("team", str),
                           OpenApiParameter("service", str)],
               responses={200: OpenApiTypes.OBJECT})
class CampaignDetailApi(PortalAPIView):
    required_scopes = ACCESS_SCOPES

    def get(self, request, pk: int):
        campaign = permissions.get_campaign_for_user(request.user, pk)
        params = request.query_params
        items = selectors.campaign_items(
            permissions.items_visible_to(request.user, campaign), decision=params.get("decision") or None,
            reviewer=params.get("reviewer", ""), team=params.get("team", ""), service=params.get("service", ""))
        paginator = ItemPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        body = CampaignListOut(campaign).data
        completion = selectors.campaign_completion(campaign)
        body["completion"] = CompletionOut(completion).data
        body["completion_by_reviewer"] = [
            {"reviewer": r["reviewer__username"], "total": r["total"], "decided": r["decided"], "percent": r["percent"]}
            for r in completion["by_reviewer"]]
        body["completion_by_team"] = [
            {"team": r["grant__service__owner_team__slug"], "total": r["total"], "decided": r["decided"],
             "percent": r["percent"]} for r in completion["by_team"]]
        body["reports"] = ReportOut([
            {"format": r.format, "sha256": r.sha256, "size": r.size, "created_at": r.created_at,
             "download_url": request.build_absolute_uri(reverse("access_reviews:report", args=[campaign.pk, r.format]))}
            for r in campaign.reports.all()], many=True).data
        body["items"] = {"count": paginator.page.paginator.count, "next": paginator.get_next_link(),
                         "previous": paginator.get_previous_link(), "results": ItemOut(page, many=True).data}
        return Response(body)


@extend_schema(tags=["access"], request=DecisionIn, responses={200: ItemOut},
               summary="Decide a review item (its reviewer or an access admin)")
class ItemDecideApi(PortalAPIView):
    required_scopes = ACCESS_SCOPES

    def post(self, request, pk: int):
        item = permissions.get_item_for_decision(request.user, pk)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.item_decide(item=item, decision=v["decision"], justification=v.get("justification", ""),
                             keep_until=v.get("keep_until"), actor=request.user)
        fresh = get_object_or_404(selectors.with_activity(item.__class__.objects.select_related(
            "grant", "grant__user", "grant__service", "grant__environment", "reviewer", "decided_by")), pk=pk)
        return Response(ItemOut(fresh).data)
