"""Log lines are JSON with the request id, the actor and the change, and never carry a secret."""

import io
import json
import logging

import pytest
from django.http import HttpResponse
from django.urls import resolve

from apps.audit.actor import Actor, acting_as
from apps.audit.middleware import RequestContextMiddleware
from releaseportal.logcontext import redact


@pytest.fixture
def log_lines():
    """What the configured console handler writes, as parsed JSON lines."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield lines
    handler.setStream(previous)


def test_a_log_line_is_json_naming_the_request_actor_and_change(rf, requester, log_lines):
    request = rf.get("/changes/CHG-000042/", HTTP_X_REQUEST_ID="req-abc-123")
    request.user = requester
    request.resolver_match = resolve("/changes/CHG-000042/")

    def view(req):
        logging.getLogger("apps.changes").warning("looked at %s", "it")
        return HttpResponse("ok")

    response = RequestContextMiddleware(view)(request)
    assert response["X-Request-ID"] == "req-abc-123"
    line = log_lines()[-1]
    assert line["message"] == "looked at it"
    assert line["level"] == "WARNING"
    assert line["logger"] == "apps.changes"
    assert line["request_id"] == "req-abc-123"
    assert line["actor"] == requester.username
    assert line["change"] == "CHG-000042"


def test_tasks_and_commands_log_as_who_they_are(log_lines):
    with acting_as(Actor(user=None, kind="task", label="task:reports.monthly")):
        logging.getLogger("apps.reports").info("generated")
    assert log_lines()[-1]["actor"] == "task:reports.monthly"


@pytest.mark.parametrize("secret, leaked", [
    ("token rp_0a1b2c3d_" + "x" * 43, "x" * 43),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("password=hunter2hunter2", "hunter2hunter2"),
    ('{"client_secret": "s3cr3t-value-123"}', "s3cr3t-value-123"),
    ("X-Hub-Signature-256: sha256=" + "ab" * 32, "ab" * 32),
])
def test_no_secret_reaches_a_log_line(log_lines, secret, leaked):
    logging.getLogger("apps.delivery").warning("refused: %s", secret)
    try:
        raise ValueError(f"bad credential {secret}")
    except ValueError:
        logging.getLogger("apps.delivery").exception("failed")
    written = json.dumps(log_lines())
    assert leaked not in written
    assert "[redacted]" in written
    assert redact(secret) != secret
