from django.urls import path

from . import api

urlpatterns = [
    path("services/", api.ServiceListApi.as_view(), name="api-services"),
    path("services/<slug:slug>/", api.ServiceDetailApi.as_view(), name="api-service"),
    path("environments/", api.EnvironmentListApi.as_view(), name="api-environments"),
]
