"""The SCIM endpoints: django-scim2's views, reading through the portal's querysets (people and
teams SCIM manages, fetched with a fixed number of queries per page) and writing through the
adapters (apps/scim/adapters.py), which call the services. Authentication is the library's
AUTH_CHECK_MIDDLEWARE hook, set to apps.scim.auth.ScimTokenCheck."""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.db.models import Prefetch
from django.http import HttpResponse
from django_scim import constants, exceptions
from django_scim import views as scim_views

from apps.accounts.models import Team, TeamMembership

from . import services
from .adapters import PortalGroupAdapter, PortalUserAdapter
from .filters import PortalGroupFilterQuery, PortalUserFilterQuery, apply_filter

ID = re.compile(r"[0-9]{1,18}")


def users_queryset():
    return (services.managed_users().select_related("scim_link")
            .prefetch_related(Prefetch("memberships", queryset=TeamMembership.objects.select_related("team")
                                       .order_by("team__name"))))


def teams_queryset():
    return Team.objects.select_related("scim_link").prefetch_related(
        Prefetch("memberships", queryset=TeamMembership.objects.select_related("user").order_by("user__username")))


class PortalScimMixin:
    """What the portal's SCIM views share: objects by numeric id from the managed queryset,
    bodies that must be JSON objects, filtered and paged lists counted in the database."""

    queryset_getter = None
    parser = None

    def load_body(self, body):
        data = super().load_body(body)
        if not isinstance(data, dict):
            raise exceptions.BadRequestError("The body must be a JSON object.", scim_type="invalidSyntax")
        return data

    def get_object(self):
        uuid = str(self.kwargs.get("uuid", ""))
        obj = type(self).queryset_getter().filter(pk=int(uuid)).first() if ID.fullmatch(uuid) else None
        if obj is None:
            raise exceptions.NotFoundError(uuid)
        return obj

    def _page(self, request):
        start, count = super()._page(request)
        return start, max(0, min(count, settings.SCIM_MAX_RESULTS))

    def get_many(self, request):
        qs = type(self).queryset_getter()
        query = request.GET.get("filter")
        if query:
            qs = apply_filter(qs, type(self).parser, query)
        start, count = self._page(request)
        total = qs.count()
        page = list(qs.order_by("pk")[start - 1:start - 1 + count]) if count else []
        resources = [self.scim_adapter(obj, request=request).to_dict() for obj in page]
        doc = {"schemas": [constants.SchemaURI.LIST_RESPONSE], "totalResults": total,
               "itemsPerPage": len(resources), "startIndex": start, "Resources": resources}
        return HttpResponse(json.dumps(doc), content_type=constants.SCIM_CONTENT_TYPE)


class UsersView(PortalScimMixin, scim_views.FilterMixin, scim_views.GetView, scim_views.PostView, scim_views.SCIMView):
    http_method_names = ["get", "post"]
    scim_adapter_getter = staticmethod(lambda: PortalUserAdapter)
    model_cls_getter = staticmethod(lambda: services.managed_users().model)
    queryset_getter = staticmethod(users_queryset)
    parser = PortalUserFilterQuery


class UserView(PortalScimMixin, scim_views.GetView, scim_views.PutView, scim_views.PatchView, scim_views.DeleteView,
               scim_views.SCIMView):
    http_method_names = ["get", "put", "patch", "delete"]
    scim_adapter_getter = staticmethod(lambda: PortalUserAdapter)
    model_cls_getter = staticmethod(lambda: services.managed_users().model)
    queryset_getter = staticmethod(users_queryset)


class GroupsView(PortalScimMixin, scim_views.FilterMixin, scim_views.GetView, scim_views.PostView,
                 scim_views.SCIMView):
    http_method_names = ["get", "post"]
    scim_adapter_getter = staticmethod(lambda: PortalGroupAdapter)
    model_cls_getter = staticmethod(lambda: Team)
    queryset_getter = staticmethod(teams_queryset)
    parser = PortalGroupFilterQuery


class GroupView(PortalScimMixin, scim_views.GetView, scim_views.PutView, scim_views.PatchView, scim_views.DeleteView,
                scim_views.SCIMView):
    http_method_names = ["get", "put", "patch", "delete"]
    scim_adapter_getter = staticmethod(lambda: PortalGroupAdapter)
    model_cls_getter = staticmethod(lambda: Team)
    queryset_getter = staticmethod(teams_queryset)


ServiceProviderConfigView = scim_views.ServiceProviderConfigView
ResourceTypesView = scim_views.ResourceTypesView
SchemasView = scim_views.SchemasView
