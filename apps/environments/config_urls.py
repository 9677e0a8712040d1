"""Configuration pages (apps/environments/config_views.py), included by apps/environments/urls.py."""

from django.urls import path

from . import config_views

urlpatterns = [
    path("config/baselines/", config_views.baseline_index, name="config-baselines"),
    path("config/baselines/<slug:service>/<slug:env>/", config_views.baseline_detail, name="config-baseline"),
    path("config/drift/", config_views.drift_list, name="config-drift"),
    path("config/drift/<int:pk>/", config_views.drift_detail, name="config-drift-detail"),
    path("config/drift/<int:pk>/resolve/", config_views.drift_resolve_view, name="config-drift-resolve"),
]
