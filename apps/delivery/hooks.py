"""/hooks/github/ and /hooks/gitlab/: verify, deduplicate, store, answer; the work is a Celery task.

A delivery is accepted only when it proves it knows an active integration's secret: GitHub's
HMAC-SHA256 of the body (X-Hub-Signature-256) or GitLab's X-Gitlab-Token, compared in constant
time. A delivery id seen before is answered 200 and not processed again (replays change nothing).
A payload of a used event that lacks what we need is refused with 400 naming the fields, and
nothing is stored; an action we do not use is acknowledged (202 "ignored") and kept for the record.

Secrets are stored encrypted (FIELD_ENCRYPTION_KEYS). One the portal cannot decrypt (the key was
changed without rotating) matches nothing: the delivery is refused like a wrong signature, and
the operators are told in the log which integration it is, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.audit.encryption import decrypt
from releaseportal.errors import InvalidInput
from releaseportal.input import load_json_bounded

from . import github, gitlab
from .models import WebhookDelivery, WebhookIntegration

logger = logging.getLogger(__name__)


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def _active_secrets(provider: str) -> Iterator[tuple[WebhookIntegration, bytes]]:
    """Each active integration of the provider with its secret in clear. The stored value is read
    as is (Cast: the field would raise on the whole query) and decrypted one by one, so an
    integration whose secret cannot be decrypted is skipped, not fatal."""
    rows = (WebhookIntegration.objects.filter(provider=provider, is_active=True).defer("secret")
            .annotate(stored_secret=Cast("secret", TextField())))
    for integration in rows:
        try:
            secret = decrypt(integration.stored_secret)
        except ValueError:
            logger.error("webhook integration %s: its secret cannot be decrypted with FIELD_ENCRYPTION_KEYS "
                         "(rotate with manage.py rotate_field_encryption or set the secret again); "
                         "deliveries for it are refused", integration.pk)
            continue
        yield integration, secret.encode()


def _github_integration(body: bytes, signature: str) -> WebhookIntegration | None:
    if not signature.startswith("sha256="):
        return None
    for integration, secret in _active_secrets("github"):
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return integration
    return None


def _gitlab_integration(token: str) -> WebhookIntegration | None:
    if not token:
        return None
    for integration, secret in _active_secrets("gitlab"):
        if hmac.compare_digest(secret, token.encode()):
            return integration
    return None


def _no_check(event: str, payload: dict) -> tuple[dict[str, list[str]], str]:
    return {}, ""


def _accept(*, integration: WebhookIntegration, delivery_id: str, event: str, body: bytes, handled: set[str],
            check=_no_check):
    if not delivery_id:
        return _refuse(400, "delivery_id_missing", "The delivery id header is missing.")
    try:
        payload = load_json_bounded(body, field="body")
    except InvalidInput as error:  # not JSON, nested too deeply, or a NUL that cannot be stored
        return _refuse(400, "malformed_document" if error.code == "parse_error" else error.code, error.message)
    if not isinstance(payload, dict):
        return _refuse(400, "malformed_document", "The body must be a JSON object.")
    ignored = "" if event in handled else f"event {event!r} is not used"
    if not ignored:
        problems, ignored = check(event, payload)
        if problems:
            return JsonResponse({"error": {"code": "invalid_payload", "message": f"This {event} payload cannot be "
                                           "used: " + ", ".join(sorted(problems)) + ".", "fields": problems}},
                                status=400)
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                integration=integration, provider=integration.provider, delivery_id=delivery_id[:100],
                event=event[:50], payload=payload,
                status=WebhookDelivery.Status.IGNORED if ignored else WebhookDelivery.Status.RECEIVED,
                result=ignored[:300])
    except IntegrityError:
        return JsonResponse({"status": "duplicate", "delivery": delivery_id}, status=200)
    if delivery.status == WebhookDelivery.Status.RECEIVED:
        from .tasks import process_webhook_delivery

        transaction.on_commit(lambda: process_webhook_delivery.delay(delivery.pk))
        return JsonResponse({"status": "accepted", "delivery": delivery_id}, status=202)
    return JsonResponse({"status": "ignored", "delivery": delivery_id}, status=202)


@csrf_exempt
@require_POST
def github_hook(request):
    body = request.body
    integration = _github_integration(body, request.headers.get("X-Hub-Signature-256", ""))
    if integration is None:
        return _refuse(401, "invalid_signature", "X-Hub-Signature-256 does not match any configured secret.")
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return JsonResponse({"status": "pong"})
    return _accept(integration=integration, delivery_id=request.headers.get("X-GitHub-Delivery", ""), event=event,
                   body=body, handled=github.EVENTS, check=github.check)


@csrf_exempt
@require_POST
def gitlab_hook(request):
    integration = _gitlab_integration(request.headers.get("X-Gitlab-Token", ""))
    if integration is None:
        return _refuse(401, "invalid_token", "X-Gitlab-Token does not match any configured token.")
    body = request.body
    try:
        kind = str(load_json_bounded(body, field="body").get("object_kind", ""))
    except (InvalidInput, AttributeError):
        kind = ""  # _accept refuses the body with the reason
    return _accept(integration=integration, delivery_id=request.headers.get("X-Gitlab-Event-UUID", ""),
                   event=kind or request.headers.get("X-Gitlab-Event", ""), body=body, handled=gitlab.EVENTS)
