"""Mounted under /api/v1/. The lead merges prov's provisioning/migration routes in here."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.environments.config_api_urls")),
]
