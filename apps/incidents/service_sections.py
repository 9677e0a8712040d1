"""Sections on the service page: recent incidents and the rollback runbook's status."""

from __future__ import annotations

from .models import Runbook, ServiceSubscription
from .permissions import can_write_for_service
from .runbooks import is_overdue
from .selectors import deployments_by_id, service_incident_summary


def sections(request, service) -> list[dict]:
    summary = service_incident_summary(service)
    deployments = deployments_by_id(i.linked_deployment_id for i in summary["recent"])
    runbook = Runbook.objects.filter(service=service).select_related("owner").first()
    subscribed = ServiceSubscription.objects.filter(service=service, user_id=request.user.pk).exists()
    return [{
        "title": "Incidents and rollback runbook", "template": "incidents/sections/service.html", "order": 40,
        "data": {"recent": [(i, deployments.get(i.linked_deployment_id)) for i in summary["recent"]],
                 "active": summary["active"], "total": summary["total"], "runbook": runbook,
                 "runbook_overdue": runbook is not None and is_overdue(runbook), "subscribed": subscribed,
                 # Offered only to those the form would accept for this service (grace got a 403).
                 "can_open": can_write_for_service(request.user, service)},
    }]
