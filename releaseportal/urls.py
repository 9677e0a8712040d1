"""Root URLs. Each app owns `urls.py` (pages, namespaced by app label) and `api_urls.py`
(mounted under /api/v1/); an app without one simply has none yet."""

from __future__ import annotations

from importlib.util import find_spec

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .metrics import metrics_view

PORTAL_APPS = [label.split(".", 1)[1] for label in settings.INSTALLED_APPS if label.startswith("apps.")]

api_patterns = [
    path("", include(f"apps.{app}.api_urls"))
    for app in PORTAL_APPS
    if find_spec(f"apps.{app}.api_urls") is not None
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file (/api/docs/?script=): the
    # Content-Security-Policy runs no inline script (settings.CONTENT_SECURITY_POLICY).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema",
                                                          template_name="drf_spectacular/swagger_ui_csp.html"),
         name="api-docs"),
    path("api/v1/", include(api_patterns)),
]
urlpatterns += [
    path("", include((f"apps.{app}.urls", app), namespace=app))
    for app in PORTAL_APPS
    if find_spec(f"apps.{app}.urls") is not None
]

# Under /api/ these answer the JSON error body; 500 caused by an unreachable database is a 503
# with Retry-After (releaseportal/faults.py).
handler400 = "releaseportal.faults.bad_request"
handler404 = "releaseportal.faults.page_not_found"
handler500 = "releaseportal.faults.server_error"
