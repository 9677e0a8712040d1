from __future__ import annotations

import importlib

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.accounts.permissions import member_required


def _dashboard_panels(request) -> list[dict]:
    """Each app may contribute panels through `apps/<app>/dashboard.py: panels(request)`."""
    panels: list[dict] = []
    for label in settings.INSTALLED_APPS:
        if not label.startswith("apps."):
            continue
        try:
            module = importlib.import_module(f"{label}.dashboard")
        except ModuleNotFoundError as exc:
            if exc.name != f"{label}.dashboard":
                raise
            continue
        panels.extend(module.panels(request))
    return sorted(panels, key=lambda panel: panel.get("order", 50))


@member_required
def home(request):
    return render(request, "home.html", {"panels": _dashboard_panels(request),
                                         "roles": sorted(request.user.role_names())})


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness for load balancers: no data, just whether we can work."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
        healthy = False
    if settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = "eager (no broker configured)"
    else:
        from kombu import Connection

        try:
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc.__class__.__name__}"
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks},
                        status=200 if healthy else 503)
