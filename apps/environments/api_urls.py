from django.urls import include, path

from . import api

urlpatterns = [
    path("environments/<slug:env>/provisions/", api.ProvisionsApi.as_view(), name="api-environment-provisions"),
    path("environments/<slug:env>/provisions/<int:pk>/", api.ProvisionDetailApi.as_view(),
         name="api-environment-provision"),
    path("migrations/applied/", api.MigrationsAppliedApi.as_view(), name="api-migrations-applied"),
    path("", include("apps.environments.config_api_urls")),
]
