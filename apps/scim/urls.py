"""/scim/v2/ (RFC 7644): Users and Groups (teams), and the discovery endpoints. Mounted by the
root URLconf under the namespace `scim`, which django-scim2's reverse() calls expect."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("scim/v2/Users", views.UsersView.as_view(), name="users"),
    path("scim/v2/Users/<str:uuid>", views.UserView.as_view(), name="user"),
    path("scim/v2/Groups", views.GroupsView.as_view(), name="groups"),
    path("scim/v2/Groups/<str:uuid>", views.GroupView.as_view(), name="group"),
    path("scim/v2/ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    # One pattern with an optional id, as django-scim2 reverses them (with and without `uuid`).
    re_path(r"^scim/v2/ResourceTypes(?:/(?P<uuid>[^/]+))?$", views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(r"^scim/v2/Schemas(?:/(?P<uuid>[^/]+))?$", views.SchemasView.as_view(), name="schemas"),
]
