"""Sections on the service page: environments side by side (what runs where, what waits for
promotion), the most recent deployments, and the shared resources it declares with who holds them."""

from __future__ import annotations

from apps.catalog.models import Environment

from . import selectors


def sections(request, service) -> list[dict]:
    environments = list(Environment.objects.order_by("order"))
    recent = list(selectors.deployments_list().filter(service=service).order_by("-started_at", "-id")[:8])
    resources = selectors.shared_resources_list(service=service)
    sections = [
        {"title": "Environments", "template": "delivery/sections/service_environments.html", "order": 10,
         "data": {"columns": selectors.environment_status(service, environments), "service": service}},
        {"title": "Recent deployments", "template": "delivery/sections/service_deployments.html", "order": 11,
         "data": {"deployments": recent, "service": service}},
    ]
    if resources:
        sections.append({"title": "Shared resources", "template": "delivery/sections/service_shared_resources.html",
                         "order": 12, "data": {"resources": resources}})
    return sections
