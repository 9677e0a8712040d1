from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.accounts.permissions import member_required

from .dbrouter import replica_reads
from .extensions import collect_sections

# How a role reads on the home page ("Roles: CAB member, approver").
ROLE_LABELS = {"cab_member": "CAB member", "release_manager": "release manager", "access_admin": "access admin",
               "product_owner": "product owner", "security_officer": "security officer",
               "operations_lead": "operations lead"}


@member_required
@replica_reads()  # the dashboards only show data: the read replica may serve their panels
def home(request):
    """The home page is per role: every app's dashboard.py contributes the panels of the roles
    whose work they are (and costs nothing for the others), so a person with several roles
    sees each of their panels once and nobody sees another role's."""
    roles = sorted(ROLE_LABELS.get(r, r) for r in request.user.role_names())
    return render(request, "home.html", {"panels": collect_sections("dashboard", request), "roles": roles})


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
