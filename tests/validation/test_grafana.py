"""The push of deployment markers to Grafana's HTTP annotations API, against a real local HTTP
server in a thread: the body and the Bearer token are right, a 500 is retried, a 4xx is not, only
production deployments and rollback decisions are pushed, only after commit, only when
configured, and the token never reaches a log."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from apps.delivery.models import Deployment
from apps.validation import grafana
from apps.validation.models import RollbackDecision

pytestmark = pytest.mark.django_db

TOKEN = "glsa_test_token_never_logged_0123456789"


class StubGrafana:
    """Answers POST /api/annotations with the next status of `statuses` (the last one repeats)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses = [200]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                status = stub.statuses.pop(0) if len(stub.statuses) > 1 else stub.statuses[0]
                answer = json.dumps({"message": "Annotation added", "id": len(stub.requests)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(settings):
    server = StubGrafana()
    settings.GRAFANA_URL = server.url + "/"
    settings.GRAFANA_TOKEN = TOKEN
    settings.GRAFANA_TIMEOUT_SECONDS = 5
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries at once, and eager tasks retry as a worker would (tests propagate errors otherwise)."""
    from releaseportal.celery import app

    monkeypatch.setattr(grafana, "RETRY_BACKOFF_SECONDS", 0)
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def _deploy(service, env, *, kind="normal", **extra):
    started = timezone.now() - timedelta(minutes=5)
    return Deployment.objects.create(service=service, environment=env, version="2.4.0", status="succeeded",
                                     kind=kind, started_at=started, finished_at=started + timedelta(minutes=2),
                                     pipeline_run_id="run-77", **extra)


def test_a_production_deployment_is_pushed_after_commit_with_the_right_body(
        stub, service, environments, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deployment = _deploy(service, environments["prod"])
        assert stub.requests == []  # nothing before the commit
    assert len(callbacks) == 1
    (request,) = stub.requests
    assert request["path"] == "/api/annotations"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body == {
        "time": int(deployment.started_at.timestamp() * 1000),
        "timeEnd": int(deployment.finished_at.timestamp() * 1000),
        "tags": ["deployment", "service:payments-api", "environment:prod", "status:succeeded"],
        "text": f"Deployed payments-api 2.4.0 to prod\nDeployment #{deployment.pk}: succeeded, pipeline run run-77.",
    }


def test_a_500_is_retried_until_grafana_takes_it(stub, service, environments, no_backoff,
                                                  django_capture_on_commit_callbacks):
    stub.statuses = [500, 502, 200]
    with django_capture_on_commit_callbacks(execute=True):
        _deploy(service, environments["prod"])
    assert len(stub.requests) == 3
    assert stub.requests[0]["body"] == stub.requests[2]["body"]


def test_it_gives_up_after_the_retries_and_never_logs_the_token(stub, service, environments, no_backoff, caplog):
    stub.statuses = [500]
    deployment = _deploy(service, environments["staging"])  # not pushed by itself: run the task by hand
    with caplog.at_level(logging.DEBUG):
        grafana.grafana_annotation_push.apply(args=("deployment", deployment.pk))
    assert len(stub.requests) == grafana.MAX_RETRIES + 1
    assert "failed after" in caplog.text
    assert TOKEN not in caplog.text


def test_an_eager_failure_does_not_break_the_request_that_recorded_the_deployment(
        stub, service, environments, django_capture_on_commit_callbacks):
    stub.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        _deploy(service, environments["prod"])  # eager tasks propagate their Retry: caught and logged
    assert len(stub.requests) == 1 and Deployment.objects.count() == 1


def test_a_4xx_is_not_retried(stub, service, environments, caplog):
    stub.statuses = [401]
    deployment = _deploy(service, environments["staging"])
    result = grafana.grafana_annotation_push.apply(args=("deployment", deployment.pk))
    assert result.get() == "refused" and len(stub.requests) == 1
    assert TOKEN not in caplog.text


def test_non_production_deployments_are_not_pushed(stub, service, environments, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _deploy(service, environments["staging"])
    assert stub.requests == []


def test_nothing_is_pushed_when_the_transaction_rolls_back(stub, service, environments):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        _deploy(service, environments["prod"])
        raise RuntimeError("the recording failed")
    assert stub.requests == []


def test_nothing_is_pushed_without_configuration(stub, settings, service, environments,
                                                 django_capture_on_commit_callbacks):
    settings.GRAFANA_TOKEN = None
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _deploy(service, environments["prod"])
    assert callbacks == [] and stub.requests == []


def test_a_rollback_decision_is_pushed(stub, service, environments, django_capture_on_commit_callbacks):
    deployment = _deploy(service, environments["prod"])
    stub.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        RollbackDecision.objects.create(deployment=deployment, trigger="automatic",
                                        reasons=[{"code": "threshold_breached",
                                                  "message": "error_rate_pct > 5 held for 6 minutes"}])
    (request,) = stub.requests
    assert request["body"]["tags"] == ["rollback", "automatic", "service:payments-api", "environment:prod"]
    assert "error_rate_pct > 5 held for 6 minutes" in request["body"]["text"]
