"""GitLab webhook deliveries: deployment events onto deployments, pipeline events onto artifacts."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from releaseportal.errors import PortalError

from . import services
from .github import record_build
from .models import Artifact, Deployment, WebhookDelivery
from .webhook_mapping import environment_named, service_for_repository

EVENTS = {"deployment", "pipeline"}
_STATUS = {"created": "started", "running": "in_progress", "success": "succeeded", "failed": "failed",
           "canceled": "failed"}


def _names(payload: dict) -> list[str]:
    project = payload.get("project") or {}
    return [project.get("path_with_namespace", ""), project.get("web_url", "")]


def _parse_time(value) -> object:
    if not value:
        return None
    text = str(value).replace(" UTC", "+00:00")
    parsed = parse_datetime(text)
    if parsed is None and " " in text:
        parsed = parse_datetime(text.replace(" ", "T", 1).replace(" ", ""))
    return parsed


def _deployment(delivery: WebhookDelivery, payload: dict, actor) -> tuple[str, str]:
    external_id = f"gitlab:{payload.get('deployment_id')}"
    status = _STATUS.get(str(payload.get("status", "")))
    if status is None:
        return WebhookDelivery.Status.IGNORED, f"status {payload.get('status')!r} is not used"
    at = _parse_time(payload.get("status_changed_at"))
    existing = Deployment.objects.filter(external_id=external_id).first()
    if existing is not None:
        if status == existing.status or status == "started":
            return WebhookDelivery.Status.IGNORED, "nothing new"
        try:
            services.deployment_update(deployment=existing, status=status, actor=actor, check_privilege=False,
                                       finished_at=at if status in Deployment.FINISHED else None)
        except PortalError as exc:
            return WebhookDelivery.Status.IGNORED, exc.message
        return WebhookDelivery.Status.PROCESSED, f"deployment #{existing.pk} {status}"
    service = service_for_repository(names=_names(payload), default=delivery.integration.default_service)
    environment = environment_named(str(payload.get("environment", "")))
    if service is None or environment is None:
        return WebhookDelivery.Status.IGNORED, "no matching service or environment"
    sha = str(payload.get("sha", ""))
    artifact = Artifact.objects.filter(service=service, git_sha=sha).order_by("-created_at").first() if sha else None
    deployment = services.deployment_record(
        service=service, environment=environment, artifact=artifact,
        version=artifact.version if artifact else (str(payload.get("ref", "")) or sha[:12])[:128], status=status,
        started_at=at, finished_at=at if status in Deployment.FINISHED else None,
        pipeline_run_id=str(payload.get("deployable_id", "")), pipeline_url=str(payload.get("deployable_url", ""))[:500],
        external_id=external_id, check_privilege=False, actor=actor,
    )
    return WebhookDelivery.Status.PROCESSED, f"deployment #{deployment.pk} recorded"


def process(delivery: WebhookDelivery, actor) -> tuple[str, str]:
    payload = delivery.payload
    if delivery.event == "deployment":
        return _deployment(delivery, payload, actor)
    if delivery.event == "pipeline":
        attributes = payload.get("object_attributes") or {}
        run = {**attributes, "status": attributes.get("status"), "html_url": attributes.get("url", "")}
        return record_build(delivery, run, names=_names(payload), actor=actor, run_id=str(attributes.get("id", "")),
                            sha_key="sha", outcome_key="status")
    return WebhookDelivery.Status.IGNORED, f"event {delivery.event} is not used"
