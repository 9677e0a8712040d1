"""GitHub webhook deliveries mapped onto deployments (deployment, deployment_status), artifacts
(workflow_run: the build's outcome recorded as evidence of the artifacts it built) and pull
requests (pull_request: linked to the change they name, and through their commits to artifacts
and deployments)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from releaseportal.errors import PortalError

from . import pull_requests, services
from .models import Artifact, Deployment, Evidence, WebhookDelivery
from .webhook_mapping import environment_named, service_for_repository

EVENTS = {"deployment", "deployment_status", "workflow_run", "pull_request"}
# pull_request actions that change what we keep; the rest (labeled, assigned, review_requested,
# ...) are acknowledged and ignored.
PULL_REQUEST_ACTIONS = {"opened", "reopened", "edited", "synchronize", "ready_for_review", "converted_to_draft",
                        "closed"}
_STATUS = {"success": "succeeded", "failure": "failed", "error": "failed", "in_progress": "in_progress",
           "queued": "in_progress", "pending": "in_progress"}


def _repository_names(payload: dict) -> list[str]:
    repo = payload.get("repository") or {}
    return [repo.get("full_name", ""), repo.get("html_url", "")]


def _deployment_from(delivery: WebhookDelivery, payload: dict, actor) -> tuple[Deployment | None, str]:
    data = payload.get("deployment") or {}
    external_id = f"github:{data.get('id')}"
    existing = Deployment.objects.filter(external_id=external_id).first()
    if existing is not None:
        return existing, "already recorded"
    service = service_for_repository(names=_repository_names(payload), default=delivery.integration.default_service)
    if service is None:
        return None, f"no service for repository {(payload.get('repository') or {}).get('full_name')}"
    environment = environment_named(str(data.get("environment", "")))
    if environment is None:
        return None, f"no environment named {data.get('environment')!r}"
    sha = str(data.get("sha", ""))
    artifact = Artifact.objects.filter(service=service, git_sha=sha).order_by("-created_at").first() if sha else None
    extra = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    change = None
    if extra.get("change"):
        from .selectors import change_by_ref

        change = change_by_ref(extra["change"])
    deployment = services.deployment_record(
        service=service, environment=environment, artifact=artifact,
        version=artifact.version if artifact else (str(data.get("ref", "")) or sha[:12])[:128], change=change,
        status="started", started_at=parse_datetime(str(data.get("created_at", ""))),
        pipeline_run_id=str(data.get("id", "")), pipeline_url=str(data.get("url", ""))[:500],
        external_id=external_id, check_privilege=False, actor=actor,
    )
    return deployment, f"deployment #{deployment.pk} recorded"


def process(delivery: WebhookDelivery, actor) -> tuple[str, str]:
    """(status, result) for the delivery."""
    payload = delivery.payload
    if delivery.event == "deployment":
        deployment, result = _deployment_from(delivery, payload, actor)
        return (WebhookDelivery.Status.PROCESSED if deployment else WebhookDelivery.Status.IGNORED), result
    if delivery.event == "deployment_status":
        state = str((payload.get("deployment_status") or {}).get("state", ""))
        deployment, result = _deployment_from(delivery, payload, actor)
        if deployment is None:
            return WebhookDelivery.Status.IGNORED, result
        status = _STATUS.get(state)
        if status is None or status == deployment.status:
            return WebhookDelivery.Status.IGNORED, f"state {state!r} changes nothing"
        finished = parse_datetime(str((payload.get("deployment_status") or {}).get("updated_at", "")))
        try:
            services.deployment_update(deployment=deployment, status=status, actor=actor, check_privilege=False,
                                       finished_at=finished if status in Deployment.FINISHED else None)
        except PortalError as exc:
            return WebhookDelivery.Status.IGNORED, exc.message
        return WebhookDelivery.Status.PROCESSED, f"deployment #{deployment.pk} {status}"
    if delivery.event == "pull_request":
        return pull_requests.process(delivery, payload, actor)
    if delivery.event == "workflow_run":
        return record_build(delivery, payload.get("workflow_run") or {}, names=_repository_names(payload), actor=actor,
                            run_id=str((payload.get("workflow_run") or {}).get("id", "")),
                            sha_key="head_sha", outcome_key="conclusion")
    return WebhookDelivery.Status.IGNORED, f"event {delivery.event} is not used"


def record_build(delivery: WebhookDelivery, run: dict, *, names: list[str], actor, run_id: str, sha_key: str,
                 outcome_key: str) -> tuple[str, str]:
    """A finished pipeline run becomes build evidence on every artifact built from its commit."""
    outcome = run.get(outcome_key)
    if run.get("status") not in ("completed", "success", "failed", "canceled") or not outcome:
        return WebhookDelivery.Status.IGNORED, "run not finished"
    service = service_for_repository(names=names, default=delivery.integration.default_service)
    sha = str(run.get(sha_key, ""))
    if service is None or not sha:
        return WebhookDelivery.Status.IGNORED, "no service or commit"
    artifacts = list(Artifact.objects.filter(service=service, git_sha=sha))
    summary = {"source": f"{delivery.provider}_pipeline", "run_id": run_id, "name": str(run.get("name", "")),
               "outcome": str(outcome), "url": str(run.get("html_url") or run.get("url") or ""), "sha": sha}
    for artifact in artifacts:
        if not Evidence.objects.filter(artifact=artifact, kind="other", summary__run_id=run_id).exists():
            services.evidence_record_build(artifact=artifact, summary=summary, actor=actor)
    return WebhookDelivery.Status.PROCESSED, f"build {outcome} recorded on {len(artifacts)} artifacts"


def check(event: str, payload: dict) -> tuple[dict[str, list[str]], str]:
    """Checked before a delivery is accepted: (problems by field, reason to ignore it)."""
    if event != "pull_request":
        return {}, ""
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        return {"action": ["required: the pull_request action"]}, ""
    if action not in PULL_REQUEST_ACTIONS:
        return {}, f"pull_request action {action!r} is not used"
    return pull_requests.problems(payload), ""
