"""Pages of the environments app (namespace `environments`). The lead merges prov's provisioning
and environment pages in here."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.environments.config_urls")),
]
