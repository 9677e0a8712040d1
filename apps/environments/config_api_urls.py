from django.urls import path

from . import config_api

urlpatterns = [
    path("config/baselines/<slug:service>/<slug:env>/", config_api.BaselineApi.as_view(), name="api-config-baseline"),
    path("config/observations/", config_api.ObservationCreateApi.as_view(), name="api-config-observations"),
    path("config/drift/", config_api.FindingListApi.as_view(), name="api-config-drift"),
    path("config/drift/<int:pk>/resolve/", config_api.FindingResolveApi.as_view(), name="api-config-drift-resolve"),
]
