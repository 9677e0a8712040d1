"""Deployment markers pushed to Grafana's HTTP annotations API (issue #14), when configured.

With `GRAFANA_URL` and `GRAFANA_TOKEN` set, every production deployment and every rollback
decision becomes an annotation: `POST {GRAFANA_URL}/api/annotations` with
`Authorization: Bearer <token>` and `{"time", "timeEnd", "tags", "text"}` (milliseconds). The
push runs in Celery after the transaction that recorded the deployment or decision commits, and
is retried with backoff when Grafana answers 5xx or 429 or cannot be reached; a 4xx other than 429
(a wrong token, a bad body) is not retried and is logged. The token never reaches a log, an error
message or the database.

Delivery cannot import validation, so the push hangs on Deployment's post_save (and
RollbackDecision's), connected in ValidationConfig.ready(): a side effect after commit, the kind
of housekeeping signals are for; nothing in the recording depends on it.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from .annotations import decision_annotation, deployment_annotation

log = logging.getLogger(__name__)

MAX_RETRIES = 5
RETRY_BACKOFF_SECONDS = 30


class GrafanaUnavailable(Exception):
    """Grafana could not take the annotation now (5xx, 429, network): worth retrying."""


class GrafanaRefused(Exception):
    """Grafana refused the annotation (4xx): retrying would not help."""


def configured() -> bool:
    url = settings.GRAFANA_URL or ""
    return bool(url.startswith(("http://", "https://")) and settings.GRAFANA_TOKEN)


def grafana_body(annotation: dict[str, Any]) -> dict[str, Any]:
    """Grafana's HTTP API has no title: it leads the text."""
    text = annotation["title"] + (f"\n{annotation['text']}" if annotation.get("text") else "")
    return {"time": annotation["time"], "timeEnd": annotation["timeEnd"], "tags": list(annotation["tags"]),
            "text": text}


def post_annotation(body: dict[str, Any]) -> int:
    """One attempt. Returns the HTTP status; raises GrafanaUnavailable or GrafanaRefused."""
    url = settings.GRAFANA_URL.rstrip("/") + "/api/annotations"  # http(s) only: configured()
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "Accept": "application/json",
        "Authorization": f"Bearer {settings.GRAFANA_TOKEN}",
    })
    try:
        with urllib.request.urlopen(request, timeout=settings.GRAFANA_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        # Only the status: the request (and its Authorization header) stays out of every message.
        if exc.code >= 500 or exc.code == 429:
            raise GrafanaUnavailable(f"Grafana answered {exc.code}") from None
        raise GrafanaRefused(f"Grafana refused the annotation: {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GrafanaUnavailable(f"Grafana unreachable: {type(reason).__name__}") from None


def _annotation_for(kind: str, pk: int) -> dict[str, Any] | None:
    from apps.delivery.models import Deployment

    from .models import RollbackDecision

    if kind == "deployment":
        deployment = (Deployment.objects.select_related("service", "environment", "artifact", "change")
                      .filter(pk=pk).first())
        return deployment_annotation(deployment) if deployment is not None else None
    if kind == "rollback_decision":
        decision = (RollbackDecision.objects.select_related("deployment__service", "deployment__environment",
                                                            "change").filter(pk=pk).first())
        return decision_annotation(decision) if decision is not None else None
    raise ValueError(f"unknown annotation kind {kind!r}")


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, name="validation.grafana_annotation_push")
def grafana_annotation_push(self, kind: str, pk: int) -> str:
    """Push one marker. Idempotent enough: a retried push after a lost answer may mark twice, which
    Grafana shows as one line; it never loses one silently (failures after the retries are logged)."""
    if not configured():
        return "not_configured"
    annotation = _annotation_for(kind, pk)
    if annotation is None:
        return "gone"
    try:
        post_annotation(grafana_body(annotation))
    except GrafanaRefused as exc:
        log.error("grafana annotation for %s %s refused: %s", kind, pk, exc)
        return "refused"
    except GrafanaUnavailable as exc:
        if self.request.retries >= MAX_RETRIES:
            log.error("grafana annotation for %s %s failed after %s attempts: %s", kind, pk, MAX_RETRIES + 1, exc)
            return "failed"
        log.warning("grafana annotation for %s %s: %s; retrying", kind, pk, exc)
        raise self.retry(countdown=RETRY_BACKOFF_SECONDS * 2 ** self.request.retries) from None
    return "pushed"


def _send(kind: str, pk: int) -> None:
    try:
        grafana_annotation_push.delay(kind, pk)
    except Exception as exc:
        # Eager mode (no broker) propagates the task's Retry into the request that recorded the
        # deployment, after its commit: a marker is not worth failing that request for.
        log.warning("grafana annotation for %s %s not pushed: %s", kind, pk, type(exc).__name__)


def _push_on_commit(kind: str, pk: int) -> None:
    transaction.on_commit(lambda: _send(kind, pk))


def on_deployment_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A production deployment recorded (a rollback deployment included): marked once, on commit."""
    if raw or not created or not configured():
        return
    if instance.environment.is_production:
        _push_on_commit("deployment", instance.pk)


def on_rollback_decision_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A rollback decided (automatic or by hand) for a production deployment: marked once, on commit."""
    if raw or not created or not configured():
        return
    if instance.deployment.environment.is_production:
        _push_on_commit("rollback_decision", instance.pk)
