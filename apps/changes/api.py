"""Change request API (API.md): one view per operation, services do the work."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.catalog.models import Environment, Service
from apps.change_types.models import ChangeType, StandardChangeTemplate
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import InvalidInput, NotAllowed

from . import services
from .models import ChangeRequest, ChangeState
from .permissions import (
    can_create_change,
    can_edit,
    can_record_post_mortem,
    get_change_for_user,
    may_submit,
    visible_changes,
)
from .serializers import (
    ApprovalIn,
    ApprovalOut,
    ChangeCreateIn,
    ChangeListOut,
    ChangeOut,
    ChangeUpdateIn,
    OverrideIn,
    PostMortemIn,
    TransitionIn,
)


class ChangeFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ChangeState.choices)
    service = django_filters.CharFilter(field_name="service__slug")
    team = django_filters.CharFilter(field_name="service__owner_team__slug")
    change_type = django_filters.CharFilter(field_name="change_type__slug")
    environment = django_filters.CharFilter(field_name="environment__slug")

    class Meta:
        model = ChangeRequest
        fields = ["state", "service", "team", "change_type", "environment"]


def _lookup(model, slug: str, field: str):
    obj = model.objects.filter(slug=slug).first()
    if obj is None:
        raise InvalidInput(f"Unknown {field} '{slug}'.", code="unknown_reference", fields={field: [f"No {field} '{slug}'."]})
    return obj


def _resolve_refs(data: dict) -> dict:
    out = dict(data)
    for field, model in (("change_type", ChangeType), ("service", Service), ("environment", Environment)):
        if field in out:
            out[field] = _lookup(model, out[field], field)
    if "implementer" in out:
        username = out.pop("implementer")
        implementer = None
        if username:
            implementer = get_user_model().objects.filter(username=username, is_active=True).first()
            if implementer is None:
                raise InvalidInput(f"Unknown implementer '{username}'.", fields={"implementer": ["No such user."]})
        out["implementer"] = implementer
    if "standard_template" in out:
        slug = out.pop("standard_template")
        if slug:
            template = StandardChangeTemplate.objects.filter(slug=slug, state="approved").order_by("-version").first()
            if template is None:
                raise InvalidInput(f"No approved standard change template '{slug}'.",
                                   fields={"standard_template": ["Not an approved template."]})
            out["standard_template"] = template
    return out


@extend_schema(tags=["changes"])
class ChangeListCreateApi(PortalListAPIView):
    """GET lists change requests (filters: state, service, team, change_type, environment);
    POST files a new one in `draft`."""

    scope = "changes"
    serializer_class = ChangeListOut
    filterset_class = ChangeFilter

    def get_queryset(self):
        return visible_changes(self.request.user).order_by("-created_at", "-pk")

    @extend_schema(request=ChangeCreateIn, responses={201: ChangeOut}, summary="File a change request")
    def post(self, request):
        if not can_create_change(request.user):
            raise NotAllowed("You may not file change requests.")
        data = ChangeCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _resolve_refs(data.validated_data)
        change = services.change_create(actor=request.user, **fields)
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["changes"])
class ChangeDetailApi(PortalAPIView):
    scope = "changes"

    @extend_schema(responses=ChangeOut, summary="Read a change request with its approval status and conflicts")
    def get(self, request, ref: str):
        return Response(ChangeOut(get_change_for_user(request.user, ref)).data)

    @extend_schema(request=ChangeUpdateIn, responses=ChangeOut,
                   summary="Edit a change (editing plan, schedule, service or risk voids approvals)")
    def patch(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        if not can_edit(request.user, change):
            raise NotAllowed("You may not edit this change.")
        data = ChangeUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _resolve_refs({k: v for k, v in data.validated_data.items() if k in request.data})
        for ignored in ("change_type", "standard_template"):
            if ignored in fields:
                raise InvalidInput(f"{ignored} cannot change after filing.", fields={ignored: ["Not editable."]})
        change = services.change_update(change=change, actor=request.user, **fields)
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data)


@extend_schema(tags=["changes"])
class ChangeSubmitApi(PortalAPIView):
    scope = "changes"

    @extend_schema(request=None, responses=ChangeOut, summary="Submit a draft for review (or schedule a standard change)")
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        if not may_submit(request.user, change):
            raise NotAllowed("You may not submit this change.")
        change = services.change_submit(change=change, actor=request.user)
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data)


@extend_schema(tags=["changes"])
class ChangeTransitionApi(PortalAPIView):
    scope = "changes"

    @extend_schema(request=TransitionIn, responses=ChangeOut,
                   summary="Move a change along its lifecycle (schedule, implement, complete, fail, roll back, cancel, close, "
                           "withdraw to draft): 403 not yours to move, 409 invalid_transition / change_not_approved")
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        # Who may make which move, and the guards, are the service's (the Lifecycle panel asks the same).
        change = services.change_move(change=change, to_state=data.validated_data["to_state"], actor=request.user,
                                      reason=data.validated_data["reason"])
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data)


@extend_schema(tags=["changes"])
class ChangeApprovalsApi(PortalAPIView):
    scope = "changes"

    @extend_schema(responses=ApprovalOut(many=True), summary="Decisions on a change, voided ones included")
    def get(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        approvals = change.approvals.select_related("approver", "on_behalf_of").order_by("decided_at", "pk")
        return Response(ApprovalOut(approvals, many=True, context={"change": change}).data)

    @extend_schema(request=ApprovalIn, responses={201: ApprovalOut},
                   summary="Approve or reject (403 self_approval_forbidden / not_an_approver / delegate_not_eligible / "
                           "approver_privilege_required, 409 already_decided / stage_not_open / freeze_active)")
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        data = ApprovalIn(data=request.data)
        data.is_valid(raise_exception=True)
        approval = services.approval_record(change=change, approver=request.user, **data.validated_data)
        return Response(ApprovalOut(approval).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["changes"])
class ChangeEmergencyOverrideApi(PortalAPIView):
    scope = "changes"

    @extend_schema(request=OverrideIn, responses={201: ChangeOut},
                   summary="Release manager: authorise an emergency change now (time-bound, default 24 h, at most 72)")
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        data = OverrideIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.emergency_override_grant(change=change, actor=request.user, reason=data.validated_data["reason"],
                                          hours=data.validated_data["hours"])
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["changes"])
class ChangePostMortemApi(PortalAPIView):
    scope = "changes"

    @extend_schema(request=PostMortemIn, responses=ChangeOut, summary="Record an emergency change's post-mortem")
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        if not can_record_post_mortem(request.user, change):
            raise NotAllowed("You may not record this change's post-mortem.")
        data = PostMortemIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.post_mortem_record(change=change, actor=request.user, text=data.validated_data["post_mortem"])
        return Response(ChangeOut(get_change_for_user(request.user, change.pk)).data)
