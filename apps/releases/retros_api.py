"""Retrospectives, their action items and user-reported issues (retros.py). Reads need
`delivery:read`; retrospectives and actions `releases:write`; filing a user issue
`incidents:write` (support and operations hold it)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.delivery.models import Deployment
from releaseportal.api.views import PortalAPIView
from releaseportal.errors import InvalidInput, NotFound

from . import retros
from .models import Release, RetroAction, Retrospective, UserIssue


class RetroActionOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    type = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    due_date = serializers.DateField()
    link_kind = serializers.CharField()
    link_ref = serializers.CharField()
    status = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    verification = serializers.CharField()


class RetrospectiveOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    status = serializers.CharField()
    release = serializers.IntegerField(source="release_id", allow_null=True)
    deployment = serializers.IntegerField(source="deployment_id", allow_null=True)
    service = serializers.CharField(source="service.slug", default=None)
    created_at = serializers.DateTimeField()
    actions = RetroActionOut(many=True)


class RetrospectiveIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Retrospective.Kind.choices)
    release = serializers.IntegerField(required=False, allow_null=True, default=None)
    deployment = serializers.IntegerField(required=False, allow_null=True, default=None)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    summary = serializers.CharField(required=False, allow_blank=True, default="")


class RetroActionIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=RetroAction.Type.choices)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())
    due_date = serializers.DateField()
    link_kind = serializers.ChoiceField(choices=RetroAction.LinkKind.choices)
    link_ref = serializers.CharField(max_length=120)


class UserIssueIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=UserIssue.Channel.choices)
    impact = serializers.ChoiceField(choices=UserIssue.Impact.choices, default=UserIssue.Impact.MEDIUM)
    customer_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    service = serializers.SlugField(required=False, allow_blank=True, default="")


class UserIssueOut(serializers.Serializer):
    id = serializers.IntegerField()
    release = serializers.IntegerField(source="release_id")
    service = serializers.CharField(source="service.slug", default=None)
    title = serializers.CharField()
    description = serializers.CharField()
    channel = serializers.CharField()
    impact = serializers.CharField()
    customer_reference = serializers.CharField()
    reported_by = serializers.CharField(source="reported_by.username")
    reported_at = serializers.DateTimeField()


def retrospectives_list():
    return (Retrospective.objects.select_related("service")
            .prefetch_related(Prefetch("actions", queryset=RetroAction.objects.select_related("owner")))
            .order_by("-created_at", "-id"))


def _release(pk: int) -> Release:
    release = Release.objects.filter(pk=pk).first()
    if release is None:
        raise NotFound(f"No release {pk}.")
    return release


@extend_schema(tags=["releases"])
class RetrospectivesApi(PortalAPIView):
    required_scopes = {"GET": "delivery:read", "POST": "releases:write"}

    @extend_schema(responses=RetrospectiveOut(many=True), summary="Retrospectives with their action items")
    def get(self, request):
        return Response(RetrospectiveOut(retrospectives_list()[:200], many=True).data)

    @extend_schema(request=RetrospectiveIn, responses={201: RetrospectiveOut},
                   summary="Open the retrospective of a release or a rollback")
    def post(self, request):
        data = RetrospectiveIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        release = _release(v["release"]) if v["release"] else None
        deployment = None
        if v["deployment"]:
            deployment = Deployment.objects.select_related("service", "environment").filter(pk=v["deployment"]).first()
            if deployment is None:
                raise InvalidInput(f"No deployment {v['deployment']}.", fields={"deployment": ["unknown"]})
        retro = retros.retrospective_open(kind=v["kind"], release=release, deployment=deployment, title=v["title"],
                                          summary=v["summary"], actor=request.user)
        return Response(RetrospectiveOut(retrospectives_list().get(pk=retro.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"], request=RetroActionIn, responses={201: RetroActionOut},
               summary="Add a typed action item, linked to what it will produce")
class RetroActionsApi(PortalAPIView):
    required_scopes = {"POST": "releases:write"}

    def post(self, request, pk: int):
        retro = Retrospective.objects.filter(pk=pk).first()
        if retro is None:
            raise NotFound(f"No retrospective {pk}.")
        data = RetroActionIn(data=request.data)
        data.is_valid(raise_exception=True)
        action = retros.retro_action_add(retrospective=retro, actor=request.user, **data.validated_data)
        return Response(RetroActionOut(action).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"], request=None, responses=RetroActionOut,
               summary="Close an action item: refused (409 not_live) until what it produced is live")
class RetroActionCloseApi(PortalAPIView):
    required_scopes = {"POST": "releases:write"}

    def post(self, request, pk: int):
        action = RetroAction.objects.select_related("owner").filter(pk=pk).first()
        if action is None:
            raise NotFound(f"No action item {pk}.")
        return Response(RetroActionOut(retros.retro_action_close(action=action, actor=request.user)).data)


@extend_schema(tags=["releases"])
class ReleaseIssuesApi(PortalAPIView):
    required_scopes = {"GET": "delivery:read", "POST": "incidents:write"}

    @extend_schema(responses=UserIssueOut(many=True), summary="Issues users reported against a release")
    def get(self, request, pk: int):
        issues = _release(pk).user_issues.select_related("service", "reported_by").order_by("-reported_at", "-id")
        return Response(UserIssueOut(issues, many=True).data)

    @extend_schema(request=UserIssueIn, responses={201: UserIssueOut},
                   summary="File an issue users reported against a release (support, operations)")
    def post(self, request, pk: int):
        release = _release(pk)
        data = UserIssueIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        slug = v.pop("service")
        service = None
        if slug:
            service = Service.objects.filter(slug=slug).first()
            if service is None:
                raise InvalidInput(f"No service {slug}.", fields={"service": ["unknown"]})
        issue = retros.user_issue_file(release=release, service=service, actor=request.user, **v)
        return Response(UserIssueOut(issue).data, status=status.HTTP_201_CREATED)
