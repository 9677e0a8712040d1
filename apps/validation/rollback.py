"""The automatic rollback: decided once per deployment, then an incident, emails and the
pipeline's webhook.

Exactly once: `rollback_decide` runs under the deployment's row lock (verdict_refresh takes it)
and the one-to-one RollbackDecision is the database's guarantee besides; of 16 concurrent sample
posts that all see the breach, one records the decision and the rest find it.

The webhook body is signed like Stripe's: `X-Release-Portal-Timestamp: <unix seconds>` and
`X-Release-Portal-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>`,
so a receiver can refuse a replayed old body. `X-Release-Portal-Delivery` carries the decision id
(the same on every attempt: a receiver can de-duplicate). Failed attempts are retried by Celery
with exponential backoff (WEBHOOK_BACKOFF_SECONDS · 2^n, at most WEBHOOK_MAX_ATTEMPTS attempts);
every attempt is a RollbackWebhookAttempt row and an audit event."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.delivery.models import Deployment
from apps.incidents.models import Incident, IncidentAttachment
from apps.incidents.services import attachment_add, incident_open
from apps.notifications.services import chat_notify
from releaseportal.errors import InvalidInput

from .evidence import verdict_snapshot_text
from .judgement import Judgement
from .models import RollbackDecision, RollbackWebhook, RollbackWebhookAttempt

SIGNATURE_HEADER = "X-Release-Portal-Signature"
TIMESTAMP_HEADER = "X-Release-Portal-Timestamp"
DELIVERY_HEADER = "X-Release-Portal-Delivery"
WEBHOOK_TIMEOUT_SECONDS = 10
WEBHOOK_MAX_ATTEMPTS = 6
WEBHOOK_BACKOFF_SECONDS = 30


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_seconds(retries: int) -> int:
    return getattr(settings, "VALIDATION_WEBHOOK_BACKOFF_SECONDS", WEBHOOK_BACKOFF_SECONDS) * (2 ** retries)


# --- registration -------------------------------------------------------------------------

def rollback_webhook_register(*, service, url: str, secret: str, actor: Any, environment=None,
                              pipeline: str = "") -> RollbackWebhook:
    """Register (or replace) the rollback endpoint of a service's pipeline."""
    fields: dict[str, list[str]] = {}
    if not url.startswith(("https://", "http://")):
        fields["url"] = ["An http(s) URL."]
    if len(secret or "") < 16:
        fields["secret"] = ["At least 16 characters."]
    if fields:
        raise InvalidInput("The rollback webhook is invalid.", fields=fields)
    with atomic_as(actor) as resolved:
        hook = (RollbackWebhook.objects.select_for_update()
                .filter(service=service, environment=environment, pipeline=pipeline).first())
        created = hook is None
        hook = hook or RollbackWebhook(service=service, environment=environment, pipeline=pipeline,
                                       created_by=resolved.user)
        hook.url, hook.secret, hook.is_active = url, secret, True
        history_stamp(hook, resolved)
        hook.save()
        audit_event_record(action="validation.rollback_webhook_registered", target=hook, actor=resolved, details={
            "service": service.slug, "environment": environment.slug if environment else None, "pipeline": pipeline,
            "url": url, "created": created})
    return hook


def webhook_for(deployment: Deployment) -> RollbackWebhook | None:
    """The environment's own webhook first, then the service-wide one."""
    hooks = RollbackWebhook.objects.filter(service_id=deployment.service_id, is_active=True).filter(
        environment_id__in=[deployment.environment_id]) | RollbackWebhook.objects.filter(
        service_id=deployment.service_id, is_active=True, environment__isnull=True)
    return sorted(hooks, key=lambda h: (h.environment_id is None, h.pk))[0] if hooks else None


# --- the decision -------------------------------------------------------------------------

def _breach_started(judgement: Judgement):
    from datetime import UTC, datetime

    starts = [c["breach_start"] for c in judgement.snapshot.get("checks", []) if c.get("breached")]
    return datetime.fromtimestamp(min(starts), tz=UTC) if starts else None


def rollback_decide(*, deployment: Deployment, judgement: Judgement, actor: Any) -> RollbackDecision | None:
    """Record the rollback decision for a failed deployment, once. Returns the new decision, or
    None when one was already recorded. The caller holds the deployment's row lock."""
    if RollbackDecision.objects.filter(deployment_id=deployment.pk).exists():
        return None
    now = timezone.now()
    with atomic_as(actor) as resolved:
        hook = webhook_for(deployment)
        decision = RollbackDecision(
            deployment=deployment, change=deployment.change, trigger=RollbackDecision.Trigger.AUTOMATIC,
            reasons=judgement.reasons, inputs=judgement.snapshot, webhook=hook, decided_by=resolved.user,
            webhook_status=RollbackDecision.WebhookStatus.PENDING if hook else RollbackDecision.WebhookStatus.NONE,
            decided_at=now)
        history_stamp(decision, resolved)
        try:
            with transaction.atomic():
                decision.save()
        except IntegrityError:
            return None  # another transaction recorded it first
        env = deployment.environment
        codes = ", ".join(dict.fromkeys(r["code"] for r in judgement.reasons))
        started = _breach_started(judgement) or now
        incident = incident_open(
            service=deployment.service, actor=resolved, caused_by_deployment=deployment,
            severity=Incident.Severity.SEV2 if env.is_production else Incident.Severity.SEV3,
            title=f"Automatic rollback of {deployment.service.slug} {deployment.version or ''} in {env.slug}"[:200],
            description="Post-deployment validation failed: " + "; ".join(r["message"] for r in judgement.reasons),
            started_at=min(started, now), detected_at=now)
        decision.incident = incident
        history_stamp(decision, resolved)
        decision.save(update_fields=["incident"])
        # The incident keeps the evidence as it stood: verdict, judgement inputs, sample summaries.
        attachment_add(incident=incident, kind=IncidentAttachment.Kind.METRICS, actor=resolved,
                       text=verdict_snapshot_text(deployment), filename=f"validation-deployment-{deployment.pk}.json",
                       description="Post-deployment validation at the automatic rollback")
        audit_event_record(action="validation.rollback_decided", target=deployment, actor=resolved, details={
            "decision": decision.pk, "change": deployment.change.number if deployment.change_id else None,
            "incident": incident.pk, "reasons": codes, "webhook": hook.pk if hook else None})

        chat_notify(event="rollback", team_id=deployment.service.owner_team_id, target_type="delivery.deployment",
                    target_id=deployment.pk, target_repr=f"deployment #{deployment.pk}",
                    title=f"Automatic rollback of {deployment.service.slug} {deployment.version or ''} in {env.slug}",
                    text="Post-deployment validation failed: " + "; ".join(r["message"] for r in judgement.reasons),
                    path=reverse("delivery:deployment", args=[deployment.pk]),
                    facts=[("Service", deployment.service.slug), ("Environment", env.slug),
                           ("Version", deployment.version or "—"), ("Reasons", codes or "—"),
                           ("Incident", incident.reference),
                           ("Change", deployment.change.number if deployment.change_id else "—")])

        from .tasks import deliver_rollback_webhook, notify_rollback_decision

        decision_id = decision.pk
        transaction.on_commit(lambda: notify_rollback_decision.delay(decision_id))
        if hook is not None:
            transaction.on_commit(lambda: deliver_rollback_webhook.delay(decision_id))
    return decision


# --- the webhook --------------------------------------------------------------------------

def webhook_body(decision: RollbackDecision) -> bytes:
    deployment = decision.deployment
    payload = {
        "event": "rollback",
        "decision": decision.pk,
        "deployment": {"id": deployment.pk, "service": deployment.service.slug,
                       "environment": deployment.environment.slug, "version": deployment.version,
                       "pipeline_run_id": deployment.pipeline_run_id,
                       "artifact": deployment.artifact.digest if deployment.artifact_id else None},
        "change": deployment.change.number if deployment.change_id else None,
        "incident": decision.incident.reference if decision.incident_id else None,
        "reasons": decision.reasons,
        "decided_at": decision.decided_at.isoformat(),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    if not url.startswith(("https://", "http://")):
        return None, "not an http(s) URL"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 — checked above
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:300]


def webhook_attempt(*, decision_id: int, attempt: int, actor: Any, last: bool) -> str:
    """One delivery attempt: "delivered", "retry", "failed" (no more attempts) or "done" (nothing
    to do: delivered before, no webhook). Records the attempt and one audit event."""
    decision = (RollbackDecision.objects.select_related("deployment__service", "deployment__environment",
                                                        "deployment__change", "deployment__artifact", "incident",
                                                        "webhook").filter(pk=decision_id).first())
    if decision is None or decision.webhook is None or decision.webhook_status in (
            RollbackDecision.WebhookStatus.DELIVERED, RollbackDecision.WebhookStatus.FAILED):
        return "done"
    if RollbackWebhookAttempt.objects.filter(decision=decision, attempt=attempt).exists():
        return "done"  # a redelivered task message: this attempt happened
    hook = decision.webhook
    body = webhook_body(decision)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "release-portal",
               TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
               DELIVERY_HEADER: str(decision.pk)}
    started = time.monotonic()
    status, error = _post(hook.url, body, headers)
    duration = (time.monotonic() - started) * 1000
    delivered = status is not None and 200 <= status < 300
    outcome = "delivered" if delivered else ("failed" if last else "retry")
    with atomic_as(actor) as resolved:
        RollbackWebhookAttempt.objects.create(
            decision=decision, webhook=hook, attempt=attempt, url=hook.url, status_code=status, error=error,
            duration_ms=round(duration, 1),
            outcome=RollbackWebhookAttempt.Outcome.DELIVERED if delivered else RollbackWebhookAttempt.Outcome.FAILED)
        if outcome in ("delivered", "failed"):
            locked = RollbackDecision.objects.select_for_update().get(pk=decision.pk)
            locked.webhook_status = (RollbackDecision.WebhookStatus.DELIVERED if delivered
                                     else RollbackDecision.WebhookStatus.FAILED)
            history_stamp(locked, resolved)
            locked.save(update_fields=["webhook_status"])
        audit_event_record(action="validation.rollback_webhook_attempt", target=decision.deployment, actor=resolved,
                           details={"decision": decision.pk, "attempt": attempt, "url": hook.url, "status": status,
                                    "error": error, "outcome": outcome})
    return outcome


# --- emails -------------------------------------------------------------------------------

def stakeholder_emails(decision: RollbackDecision) -> list[str]:
    """The owning team (members, mailbox, subscribers: incidents' list) and the change's
    requester, implementer and approvers."""
    from apps.accounts.models import User
    from apps.incidents.notifications import stakeholder_emails as service_emails

    deployment = decision.deployment
    emails = set(service_emails(deployment.service))
    change = deployment.change
    if change is not None:
        people = User.objects.filter(is_active=True).exclude(email="").filter(
            pk__in=[pk for pk in (change.requester_id, change.implementer_id) if pk]
        ) | User.objects.filter(is_active=True, approvals_given__change=change).exclude(email="")
        emails |= set(people.values_list("email", flat=True))
    return sorted(emails)


def rollback_notify(*, decision_id: int) -> int:
    """Email the stakeholders once (notified_at marks it). Returns how many were emailed."""
    from django.core.mail import send_mail

    with transaction.atomic():
        decision = (RollbackDecision.objects.select_for_update(of=("self",))
                    .select_related("deployment__service__owner_team", "deployment__environment", "deployment__change",
                                    "incident").filter(pk=decision_id).first())
        if decision is None or decision.notified_at is not None:
            return 0
        to = stakeholder_emails(decision)
        deployment = decision.deployment
        subject = (f"Automatic rollback: {deployment.service.name} {deployment.version or ''} in "
                   f"{deployment.environment.name}")
        lines = [f"Post-deployment validation failed for deployment #{deployment.pk} of {deployment.service.slug} "
                 f"({deployment.version or '?'}) in {deployment.environment.slug}.", ""]
        lines += [f"- {r['code']}: {r['message']}" for r in decision.reasons]
        if deployment.change_id:
            lines.append(f"\nChange: {deployment.change.number} {deployment.change.title}")
        if decision.incident_id:
            lines.append(f"Incident: {decision.incident.reference}")
        lines.append(f"Rollback webhook: {decision.get_webhook_status_display()}.")
        if to:
            send_mail(subject[:200], "\n".join(lines), settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
        # Housekeeping timestamp (the email is not a governed change): no history row.
        RollbackDecision.objects.filter(pk=decision.pk).update(notified_at=timezone.now())
    return len(to)
