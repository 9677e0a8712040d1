from django.urls import path

from . import api

urlpatterns = [
    path("services/", api.ServiceListApi.as_view(), name="api-services"),
    path("environments/", api.EnvironmentListApi.as_view(), name="api-environments"),
]
