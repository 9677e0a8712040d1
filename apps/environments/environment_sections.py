"""The environment page's configuration section (the page itself renders
collect_sections("environment_sections", request, environment)): open drift findings in the
environment and how many services are not observed for longer than its policy allows. A fixed
number of queries."""

from __future__ import annotations

from django.db.models import Count, Q

from . import config_selectors as selectors
from .config_permissions import can_read_config
from .config_presentation import findings_rows
from .models.config import ConfigBaseline, DriftFinding

MAX_FINDINGS = 20


def sections(request, environment) -> list[dict]:
    if not can_read_config(request.user):
        return []
    counts = DriftFinding.objects.filter(environment=environment, status=DriftFinding.Status.OPEN).aggregate(
        open=Count("pk"), blocking=Count("pk", filter=Q(must_match=True)),
        stale=Count("pk", filter=Q(kind=DriftFinding.Kind.STALE)), services=Count("service", distinct=True))
    findings = list(selectors.open_findings(environment=environment)
                    .order_by("-must_match", "-last_seen", "-pk")[:MAX_FINDINGS])
    baselines = ConfigBaseline.objects.filter(environment=environment, status=ConfigBaseline.Status.APPROVED).count()
    policy = selectors.policy_for(environment)
    return [{"title": "Configuration drift", "template": "environments/config/sections/environment.html", "order": 30,
             "data": {"environment": environment, "counts": counts, "findings": findings_rows(findings),
                      "baselines": baselines, "policy": policy}}]
