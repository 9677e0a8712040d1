"""The automatic rollback: one decision per deployment (also under 16 concurrent posts on
PostgreSQL), an incident explicitly linked to the deployment, emails to the owning team and the
change's people, and the pipeline's webhook called once — HMAC-signed, retried with backoff on
failure, every attempt recorded and audited. A real local HTTP server plays the pipeline."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from apps.audit.models import AuditEvent
from apps.incidents.linking import linked_deployment
from apps.incidents.models import Incident
from apps.validation import rollback
from apps.validation.models import HealthPolicy, RollbackDecision, RollbackWebhookAttempt
from tests.concurrency import race

from .conftest import every_10s

SECRET = "s3cret-for-the-rollback-hook"


class Pipeline:
    """A local HTTP endpoint answering with the given status codes in turn (the last repeats)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"headers": dict(self.headers), "body": body})
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/rollback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auto_rollback(service, environments):
    return HealthPolicy.objects.create(service=service, environment=environments["prod"], auto_rollback=True, checks=[
        {"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}])


@pytest.fixture(autouse=True)
def _eager_retries(settings):
    """Eager Celery runs a retry in place only when it does not propagate the Retry; the backoff
    is not waited for."""
    from releaseportal.celery import app

    settings.VALIDATION_WEBHOOK_BACKOFF_SECONDS = 0
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def _breach(deployment, minutes=6):
    return every_10s(deployment.started_at.timestamp() + 60, minutes, 7.0)


@pytest.mark.django_db
def test_a_breach_rolls_back_once_with_incident_emails_and_a_signed_webhook(
        make_deployment, make_change, auto_rollback, service, service_account, post_samples,
        django_capture_on_commit_callbacks, approver):
    change = make_change(rollback_criteria={"error_rate_pct": 5, "window_minutes": 5})
    deployment = make_deployment(change=change)
    with Pipeline([500, 503, 200]) as endpoint:
        rollback.rollback_webhook_register(service=service, url=endpoint.url, secret=SECRET, actor=service_account,
                                           pipeline="github-actions")
        with django_capture_on_commit_callbacks(execute=True):
            response = post_samples(deployment, _breach(deployment))
        assert response.status_code == 201
        assert response.json()["verdict"]["action"] == "rollback"
        assert response.json()["verdict"]["rollback"]["incident"] is not None

        decision = RollbackDecision.objects.get()
        assert (decision.deployment, decision.change, decision.trigger) == (deployment, change, "automatic")
        assert decision.history.count() >= 1
        # The incident names the deployment explicitly: DORA's failure and recovery follow.
        incident = Incident.objects.get()
        assert decision.incident == incident and incident.caused_by_deployment == deployment
        assert linked_deployment(incident) == (deployment, "explicit")
        assert incident.severity == "sev2" and incident.status == "open"
        audit = AuditEvent.objects.get(action="validation.rollback_decided")
        assert audit.details["change"] == change.number and audit.details["incident"] == incident.pk

        # Three attempts: two failures, retried, then delivered; each recorded and audited.
        assert len(endpoint.requests) == 3
        attempts = list(RollbackWebhookAttempt.objects.order_by("attempt").values_list("attempt", "outcome",
                                                                                      "status_code"))
        assert attempts == [(1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)]
        assert AuditEvent.objects.filter(action="validation.rollback_webhook_attempt").count() == 3
        decision.refresh_from_db()
        assert decision.webhook_status == "delivered"
        for request in endpoint.requests:
            headers = request["headers"]
            assert headers["X-Release-Portal-Signature"].startswith("sha256=")
            assert rollback.verify(SECRET, headers["X-Release-Portal-Timestamp"], request["body"],
                                   headers["X-Release-Portal-Signature"])
            assert not rollback.verify("another-secret-entirely", headers["X-Release-Portal-Timestamp"],
                                       request["body"], headers["X-Release-Portal-Signature"])
            assert headers["X-Release-Portal-Delivery"] == str(decision.pk)
        payload = json.loads(endpoint.requests[0]["body"])
        assert payload["event"] == "rollback" and payload["deployment"]["id"] == deployment.pk
        assert payload["change"] == change.number and payload["incident"] == incident.reference
        # The policy's check and the change's own criterion both held.
        assert [r["code"] for r in payload["reasons"]] == ["threshold_breached", "threshold_breached"]

        # The owning team and the change's people are told once.
        rollback_mails = [m for m in mail.outbox if m.subject.startswith("Automatic rollback")]
        assert len(rollback_mails) == 1
        to = set(rollback_mails[0].to)
        assert {change.requester.email, change.implementer.email} <= to
        decision.refresh_from_db()
        assert decision.notified_at is not None

        # A second breach: no second decision, incident or webhook call.
        with django_capture_on_commit_callbacks(execute=True):
            again = post_samples(deployment, every_10s(deployment.started_at.timestamp() + 500, 6, 9.0))
        assert again.status_code == 201
        assert again.json()["verdict"]["status"] == "failed"
        assert RollbackDecision.objects.count() == 1 and Incident.objects.count() == 1
        assert len(endpoint.requests) == 3


@pytest.mark.django_db
def test_a_webhook_that_keeps_failing_gives_up_after_the_last_attempt(
        deployment, auto_rollback, service, service_account, post_samples, django_capture_on_commit_callbacks,
        monkeypatch):
    monkeypatch.setattr(rollback, "WEBHOOK_MAX_ATTEMPTS", 3)
    with Pipeline([500]) as endpoint:
        rollback.rollback_webhook_register(service=service, url=endpoint.url, secret=SECRET, actor=service_account)
        with django_capture_on_commit_callbacks(execute=True):
            post_samples(deployment, _breach(deployment))
        assert len(endpoint.requests) == 3
    decision = RollbackDecision.objects.get()
    assert decision.webhook_status == "failed"
    assert list(decision.webhook_attempts.values_list("outcome", flat=True)) == ["failed"] * 3
    # A redelivered task message after the end sends nothing more.
    from apps.validation.tasks import deliver_rollback_webhook

    assert deliver_rollback_webhook.delay(decision.pk).get() == "done"


@pytest.mark.django_db
def test_without_auto_rollback_the_verdict_says_rollback_but_nothing_is_decided(deployment, post_samples,
                                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_samples(deployment, _breach(deployment))
    assert response.json()["verdict"]["action"] == "rollback"
    assert not RollbackDecision.objects.exists() and not Incident.objects.exists()


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(deployment, auto_rollback, service, service_account,
                                                         django_capture_on_commit_callbacks):
    from django.db import transaction

    from apps.validation.services import metric_samples_record

    with Pipeline([200]) as endpoint:
        rollback.rollback_webhook_register(service=service, url=endpoint.url, secret=SECRET, actor=service_account)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    metric_samples_record(deployment=deployment, metric="error_rate_pct", cohort="current",
                                          samples=_breach(deployment), actor=service_account)
                    raise RuntimeError("the request failed after judging")
            except RuntimeError:
                pass
        assert callbacks == [] and endpoint.requests == []
    assert not RollbackDecision.objects.exists() and not Incident.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_breaching_posts_decide_once(make_deployment, auto_rollback, service, service_account,
                                                        token_for):
    from rest_framework.test import APIClient

    deployment = make_deployment()
    raw = token_for(service_account)
    t0 = deployment.started_at.timestamp() + 60
    with Pipeline([200]) as endpoint:
        rollback.rollback_webhook_register(service=service, url=endpoint.url, secret=SECRET, actor=service_account)

        def post(i):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            # Each post alone is a 6-minute breach; together they cover 6 minutes many times over.
            samples = every_10s(t0 + i, 6, 7.0 + i / 100)
            return client.post(f"/api/v1/deployments/{deployment.pk}/metrics/",
                               {"metric": "error_rate_pct", "cohort": "current", "samples": samples},
                               format="json").status_code

        assert race(16, post) == [201] * 16
        assert RollbackDecision.objects.filter(deployment=deployment).count() == 1
        assert Incident.objects.filter(caused_by_deployment=deployment).count() == 1
        assert AuditEvent.objects.filter(action="validation.rollback_decided").count() == 1
        assert len(endpoint.requests) == 1
