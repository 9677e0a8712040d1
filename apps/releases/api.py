"""Release trains and releases API (API.md "Releases"). Reads need `changes:read`; planning and
sign-offs `releases:write`; a service's dependencies `catalog:write`; an off-cadence
justification `changes:write`. Who may do what is decided in permissions.py and services.py."""

from __future__ import annotations

import django_filters
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.permissions import is_portal_member
from apps.catalog.models import Service
from apps.catalog.permissions import get_service_for_user
from apps.changes.models import CabMeeting
from apps.changes.permissions import get_change_for_user
from releaseportal.api.views import PortalAPIView, PortalListAPIView
from releaseportal.errors import InvalidInput, NotAllowed

from . import services
from .cab_reviews import can_take_release_to_cab, release_cab_add
from .models import (
    Cadence,
    Release,
    ReleaseState,
    ReleaseTrain,
    ScopeException,
    ServiceDependency,
    TrainReason,
)
from .permissions import (
    can_justify_off_cadence,
    can_manage_trains,
    can_plan_release,
    can_request_exception,
    can_set_dependencies,
)
from .selectors import release_queryset, release_view, trains_with_services

READ, WRITE = "changes:read", "releases:write"


# --- serializers ------------------------------------------------------------------------------

class TrainOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    cadence = serializers.CharField()
    rrule = serializers.CharField()
    cadence_anchor = serializers.DateTimeField()
    window_hours = serializers.IntegerField()
    reason = serializers.CharField()
    signoff_roles = serializers.ListField(child=serializers.CharField())
    owners = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()

    def get_owners(self, obj) -> list[str]:
        return sorted(u.username for u in obj.owners.all())

    def get_services(self, obj) -> list[str]:
        return [m.service.slug for m in obj.memberships.all()]


class TrainIn(serializers.Serializer):
    slug = serializers.SlugField(max_length=60)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    cadence = serializers.ChoiceField(choices=Cadence.choices)
    rrule = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    cadence_anchor = serializers.DateTimeField(required=False, default=None)
    window_hours = serializers.IntegerField(required=False, default=24, min_value=1, max_value=744)
    reason = serializers.ChoiceField(choices=TrainReason.choices)
    signoff_roles = serializers.ListField(child=serializers.CharField(max_length=20), max_length=3)
    owners = serializers.ListField(child=serializers.CharField(max_length=150), required=False, default=list)
    services = serializers.ListField(child=serializers.SlugField(max_length=60), required=False, default=list)


class ReleaseIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    train = serializers.SlugField(max_length=60)
    planned_start = serializers.DateTimeField()
    scope_lock_at = serializers.DateTimeField()
    services = serializers.ListField(child=serializers.SlugField(max_length=60), min_length=1, max_length=2000)


class ChangeIn(serializers.Serializer):
    change = serializers.CharField(max_length=40, help_text="id or CHG-number")


class TransitionIn(serializers.Serializer):
    to_state = serializers.ChoiceField(choices=ReleaseState.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ExceptionIn(serializers.Serializer):
    change = serializers.CharField(max_length=40)
    reason = serializers.CharField(max_length=4000)


class SignoffIn(serializers.Serializer):
    role = serializers.CharField(max_length=20)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DependenciesIn(serializers.Serializer):
    depends_on = serializers.ListField(child=serializers.SlugField(max_length=60), max_length=500)


class JustificationIn(serializers.Serializer):
    justification = serializers.CharField(max_length=4000)


def _slugs(values) -> list[str]:
    return list(dict.fromkeys(values))


def _services_by_slug(slugs: list[str], field: str) -> list[Service]:
    found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise InvalidInput(f"Unknown services: {', '.join(unknown)}.", fields={field: [f"Unknown: {', '.join(unknown)}."]})
    return [found[s] for s in slugs]


def _change(user, ref):
    try:
        return get_change_for_user(user, ref)
    except Http404:
        raise InvalidInput("No such change.", fields={"change": ["Unknown change."]}) from None


def exception_out(exception: ScopeException) -> dict:
    return {"id": exception.pk, "change": exception.change.number, "reason": exception.reason,
            "requested_by": exception.requested_by.username, "requested_at": exception.requested_at,
            "required_roles": exception.required_roles, "state": exception.state,
            "signoffs": [{"role": s.role, "signer": s.signer.username, "signed_at": s.signed_at, "comment": s.comment}
                         for s in exception.signoffs.all()]}


def release_out(release: Release) -> dict:
    view = release_view(release)
    return {
        "id": release.pk, "name": release.name, "train": release.train.slug, "state": release.state,
        "planned_start": release.planned_start, "scope_lock_at": release.scope_lock_at,
        "scope_locked": view.locked, "released_at": release.released_at,
        "services": [s.slug for s in view.services],
        "changes": [{"id": link.change_id, "number": link.change.number, "title": link.change.title,
                     "service": link.change.service.slug, "environment": link.change.environment.slug,
                     "state": link.change.state, "added_at": link.added_at, "after_lock": link.after_lock,
                     "scope_exception": link.exception_id} for link in view.changes],
        "scope_creep": [link.change.number for link in view.scope_creep],
        "scope_exceptions": [exception_out(e) for e in view.exceptions],
        "checkpoints": [{k: c[k] for k in ("name", "scope", "status", "evidence", "missing", "control")}
                        for c in view.checkpoints],
        "plan": {"waves": [[item["service"].slug for item in wave] for wave in view.waves]},
        "progress": {item["service"].slug: item["deployed"] for wave in view.waves for item in wave},
    }


class ReleaseOut(serializers.Serializer):
    """The shape of release_out (for the schema)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    train = serializers.CharField()
    state = serializers.CharField()
    planned_start = serializers.DateTimeField()
    scope_lock_at = serializers.DateTimeField()
    scope_locked = serializers.BooleanField()
    services = serializers.ListField(child=serializers.CharField())
    changes = serializers.ListField(child=serializers.DictField())
    scope_creep = serializers.ListField(child=serializers.CharField())
    scope_exceptions = serializers.ListField(child=serializers.DictField())
    checkpoints = serializers.ListField(child=serializers.DictField())
    plan = serializers.DictField()
    progress = serializers.DictField()


def _release(user, pk) -> Release:
    if not is_portal_member(user):
        raise Http404
    release = release_queryset().filter(pk=pk).first()
    if release is None:
        raise Http404
    return release


# --- views ------------------------------------------------------------------------------------

@extend_schema(tags=["releases"])
class TrainListApi(PortalAPIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(summary="List release trains", responses=TrainOut(many=True))
    def get(self, request):
        return Response(TrainOut(trains_with_services(), many=True).data)

    @extend_schema(summary="Create a release train", request=TrainIn, responses={201: TrainOut})
    def post(self, request):
        if not can_manage_trains(request.user):
            raise NotAllowed("Release managers create trains.")
        data_in = TrainIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = dict(data_in.validated_data)
        owners = list(User.objects.filter(username__in=data.pop("owners")))
        svc = _services_by_slug(_slugs(data.pop("services")), "services")
        train = services.train_create(actor=request.user, owners=owners, services=svc, **data)
        return Response(TrainOut(trains_with_services().get(pk=train.pk)).data, status=status.HTTP_201_CREATED)


class ReleaseSummaryOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    train = serializers.CharField(source="train.slug")
    state = serializers.CharField()
    planned_start = serializers.DateTimeField()
    scope_lock_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)


class ReleaseFilter(django_filters.FilterSet):
    train = django_filters.CharFilter(field_name="train__slug")
    state = django_filters.ChoiceFilter(choices=ReleaseState.choices)

    class Meta:
        model = Release
        fields = ["train", "state"]


@extend_schema(tags=["releases"])
class ReleaseListApi(PortalListAPIView):
    """GET lists releases, latest planned start first (paginated; filters: train, state); POST plans one."""

    required_scopes = {"GET": READ, "POST": WRITE}
    serializer_class = ReleaseSummaryOut
    filterset_class = ReleaseFilter

    def get_queryset(self):
        if not is_portal_member(self.request.user):
            return Release.objects.none()
        return release_queryset().order_by("-planned_start", "-pk")

    @extend_schema(summary="Plan a release", request=ReleaseIn, responses={201: ReleaseOut})
    def post(self, request):
        data_in = ReleaseIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = dict(data_in.validated_data)
        train = ReleaseTrain.objects.filter(slug=data.pop("train")).first()
        if train is None:
            raise InvalidInput("Unknown train.", fields={"train": ["Unknown train."]})
        if not can_plan_release(request.user, train):
            raise NotAllowed("Release managers and the train's owners plan its releases.")
        svc = _services_by_slug(_slugs(data.pop("services")), "services")
        release = services.release_create(actor=request.user, train=train, services=svc, **data)
        return Response(release_out(_release(request.user, release.pk)), status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"])
class ReleaseDetailApi(PortalAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(summary="A release: state, changes, checkpoints, plan waves, progress", responses=ReleaseOut)
    def get(self, request, pk: int):
        return Response(release_out(_release(request.user, pk)))


@extend_schema(tags=["releases"])
class ReleaseChangesApi(PortalAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(summary="Add a change to the scope (409 scope_locked after the lock without an approved "
                           "scope exception)", request=ChangeIn, responses={201: ReleaseOut})
    def post(self, request, pk: int):
        release = _release(request.user, pk)
        if not can_plan_release(request.user, release.train):
            raise NotAllowed("Release managers and the train's owners change a release's scope.")
        data_in = ChangeIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        change = _change(request.user, data_in.validated_data["change"])
        services.release_change_add(release=release, change=change, actor=request.user)
        return Response(release_out(_release(request.user, pk)), status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"])
class ReleaseTransitionApi(PortalAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(summary="Move a release (lock scope, start, release, cancel)", request=TransitionIn,
                   responses=ReleaseOut)
    def post(self, request, pk: int):
        release = _release(request.user, pk)
        if not can_plan_release(request.user, release.train):
            raise NotAllowed("Release managers and the train's owners move a release.")
        data_in = TransitionIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        services.release_transition(release=release, actor=request.user, **data_in.validated_data)
        return Response(release_out(_release(request.user, pk)))


@extend_schema(tags=["releases"])
class ScopeExceptionsApi(PortalAPIView):
    required_scopes = {"POST": "changes:write"}  # whoever plans changes asks; the sign-offs decide

    @extend_schema(summary="Ask for a scope exception for a change (locked scope)", request=ExceptionIn,
                   responses={201: serializers.DictField()})
    def post(self, request, pk: int):
        release = _release(request.user, pk)
        if not can_request_exception(request.user):
            raise NotAllowed("Scope exceptions are asked for by people.")
        data_in = ExceptionIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        change = _change(request.user, data_in.validated_data["change"])
        exception = services.scope_exception_request(release=release, change=change, actor=request.user,
                                                     reason=data_in.validated_data["reason"])
        return Response(exception_out(exception), status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"])
class ScopeSignoffApi(PortalAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(summary="Sign a scope exception for one of the train's sign-off roles", request=SignoffIn,
                   responses={201: serializers.DictField()})
    def post(self, request, pk: int, exception_id: int):
        release = _release(request.user, pk)
        exception = ScopeException.objects.filter(pk=exception_id, release=release).first()
        if exception is None:
            raise Http404
        data_in = SignoffIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        services.scope_exception_sign(exception=exception, actor=request.user, **data_in.validated_data)
        exception = (ScopeException.objects.select_related("change", "requested_by")
                     .prefetch_related("signoffs__signer").get(pk=exception.pk))
        return Response(exception_out(exception), status=status.HTTP_201_CREATED)


@extend_schema(tags=["releases"])
class ServiceDependenciesApi(PortalAPIView):
    required_scopes = {"GET": "catalog:read", "PUT": "catalog:write"}

    @extend_schema(summary="What a service depends on", responses=DependenciesIn)
    def get(self, request, service: str):
        svc = get_service_for_user(request.user, service)
        return Response({"depends_on": sorted(ServiceDependency.objects.filter(service=svc)
                                              .values_list("depends_on__slug", flat=True))})

    @extend_schema(summary="Replace what a service depends on (400 dependency_cycle naming the cycle)",
                   request=DependenciesIn, responses=DependenciesIn)
    def put(self, request, service: str):
        svc = get_service_for_user(request.user, service)
        if not can_set_dependencies(request.user, svc):
            raise NotAllowed("The service's team, its administrators and release managers declare its dependencies.")
        data_in = DependenciesIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        targets = _services_by_slug(_slugs(data_in.validated_data["depends_on"]), "depends_on")
        services.dependencies_set(service=svc, depends_on=targets, actor=request.user)
        return Response({"depends_on": sorted(s.slug for s in targets)})


@extend_schema(tags=["releases"])
class OffCadenceJustificationApi(PortalAPIView):
    required_scopes = {"PUT": "changes:write"}

    @extend_schema(summary="Record why a production change runs outside its train's cadence",
                   request=JustificationIn, responses=JustificationIn)
    def put(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        if not can_justify_off_cadence(request.user, change):
            raise NotAllowed("The change's requester, implementer or a release manager justifies it.")
        data_in = JustificationIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        saved = services.off_cadence_justification_record(change=change, actor=request.user,
                                                          text=data_in.validated_data["justification"])
        return Response({"justification": saved.text})


# --- compliance checkpoints -------------------------------------------------------------------

class CheckpointIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    required_evidence_kinds = serializers.ListField(child=serializers.CharField(max_length=20), required=False,
                                                    default=list)
    required_approval_stages = serializers.ListField(child=serializers.CharField(max_length=80), required=False,
                                                     default=list)
    retention_days = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    control = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)


class ComplianceScopeIn(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    retention_days = serializers.IntegerField(min_value=1, max_value=36500)
    waiver_role = serializers.CharField(max_length=40)
    checkpoints = CheckpointIn(many=True)


class WaiverIn(serializers.Serializer):
    checkpoint = serializers.IntegerField()
    reason = serializers.CharField(max_length=4000)


class CheckpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    required_evidence_kinds = serializers.ListField(child=serializers.CharField())
    required_approval_stages = serializers.ListField(child=serializers.CharField())
    retention_days = serializers.IntegerField(allow_null=True)
    control = serializers.CharField(allow_blank=True)


class ComplianceScopeOut(serializers.Serializer):
    """The answer's shape for the OpenAPI schema (built by _scopes_out)."""

    key = serializers.CharField()
    name = serializers.CharField()
    retention_days = serializers.IntegerField()
    waiver_role = serializers.CharField()
    checkpoints = CheckpointOut(many=True)


def _scopes_out() -> list[dict]:
    from .models import ComplianceScope

    return [{"key": s.key, "name": s.name, "retention_days": s.retention_days, "waiver_role": s.waiver_role,
             "checkpoints": [{"id": c.pk, "name": c.name, "required_evidence_kinds": c.required_evidence_kinds,
                              "required_approval_stages": c.required_approval_stages,
                              "retention_days": c.retention_days, "control": c.control}
                             for c in s.checkpoints.all()]}
            for s in ComplianceScope.objects.prefetch_related("checkpoints").order_by("key")]


@extend_schema(tags=["releases"])
class ComplianceScopesApi(PortalAPIView):
    required_scopes = {"GET": READ}

    # The operation id stays what it was when the answer was documented as an object.
    @extend_schema(summary="Compliance scopes and their checkpoints", responses=ComplianceScopeOut(many=True),
                   operation_id="v1_compliance_scopes_retrieve")
    def get(self, request):
        return Response(_scopes_out())


@extend_schema(tags=["releases"])
class ComplianceScopeApi(PortalAPIView):
    required_scopes = {"PUT": WRITE}

    @extend_schema(summary="Define a compliance scope's checkpoints (release managers)", request=ComplianceScopeIn,
                   responses=ComplianceScopeOut)
    def put(self, request, key: str):
        from .checkpoints import compliance_scope_define

        if not can_manage_trains(request.user):
            raise NotAllowed("Release managers define compliance checkpoints.")
        data_in = ComplianceScopeIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        compliance_scope_define(key=key, actor=request.user, name=data["name"], retention_days=data["retention_days"],
                                waiver_role=data["waiver_role"], checkpoints=[dict(c) for c in data["checkpoints"]])
        return Response(next(s for s in _scopes_out() if s["key"] == key))


@extend_schema(tags=["releases"])
class CheckpointWaiverApi(PortalAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(summary="Waive a compliance checkpoint for a change (the scope's waiver role)", request=WaiverIn,
                   responses={201: serializers.DictField()})
    def post(self, request, ref: str):
        from .checkpoints import checkpoint_waive
        from .models import ComplianceCheckpoint

        change = get_change_for_user(request.user, ref)
        data_in = WaiverIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        checkpoint = ComplianceCheckpoint.objects.select_related("scope").filter(
            pk=data_in.validated_data["checkpoint"]).first()
        if checkpoint is None:
            raise InvalidInput("Unknown checkpoint.", fields={"checkpoint": ["Unknown checkpoint."]})
        waiver = checkpoint_waive(checkpoint=checkpoint, change=change, actor=request.user,
                                  reason=data_in.validated_data["reason"])
        return Response({"checkpoint": checkpoint.pk, "change": change.number, "waived_by": request.user.username,
                         "reason": waiver.reason, "waived_at": waiver.waived_at}, status=status.HTTP_201_CREATED)


# --- a release taken to a CAB meeting ---------------------------------------------------------

class ReleaseCabIn(serializers.Serializer):
    meeting = serializers.IntegerField(min_value=1, help_text="id of a planned CAB meeting")


class ReleaseCabOut(serializers.Serializer):
    release = serializers.IntegerField(source="release_id")
    meeting = serializers.IntegerField(source="meeting_id")
    changes = serializers.ListField(child=serializers.CharField(), help_text="On the agenda under the release")
    added_by = serializers.CharField(source="added_by.username")
    added_at = serializers.DateTimeField()


@extend_schema(tags=["releases"])
class ReleaseCabApi(PortalAPIView):
    required_scopes = {"POST": "changes:write"}  # the CAB agenda: what CAB members' tokens carry

    @extend_schema(summary="Put the release's changes awaiting CAB approval on a CAB meeting's agenda (409 "
                           "meeting_closed, release_closed, nothing_awaits_cab)",
                   request=ReleaseCabIn, responses={201: ReleaseCabOut})
    def post(self, request, pk: int):
        release = _release(request.user, pk)
        if not can_take_release_to_cab(request.user):
            raise NotAllowed("Release managers and CAB members put releases on a CAB meeting's agenda.")
        data_in = ReleaseCabIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        meeting = CabMeeting.objects.filter(pk=data_in.validated_data["meeting"]).first()
        if meeting is None:
            raise InvalidInput("No such CAB meeting.", fields={"meeting": ["Unknown CAB meeting."]})
        review = release_cab_add(release=release, meeting=meeting, actor=request.user)
        return Response(ReleaseCabOut(review).data, status=status.HTTP_201_CREATED)
