"""Faults answer the documented error body: JSON 500 and 503 (with Retry-After) under /api/, a
self-retrying 503 page for browsers while the database is down, 413 for oversized bodies, 405 for
unsupported methods, and an Idempotency-Key is freed when its request failed with a 5xx."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.backends import utils as db_utils
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


@pytest.fixture
def database_down(monkeypatch):
    """From now on every query fails as if PostgreSQL were restarting."""

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    def go():
        monkeypatch.setattr(db_utils.CursorWrapper, "execute", down)
        monkeypatch.setattr(db_utils.CursorWrapper, "executemany", down)

    return go


@pytest.fixture
def auditor_api(token_for, auditor):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(auditor, ['reports:read', 'changes:read'])}")
    return client


def test_an_unhandled_error_under_api_is_a_json_500(auditor_api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("apps.reports.api.cached_report", broken)
    response = auditor_api.get("/api/v1/reports/dora/", {"month": "2026-10"})
    assert response.status_code == 500
    assert _error(response)["code"] == "server_error"


def test_the_api_answers_503_with_retry_after_while_the_database_is_down(auditor_api, database_down):
    database_down()
    response = auditor_api.get("/api/v1/changes/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert _error(response)["code"] == "service_unavailable"


def test_pages_answer_a_self_retrying_503_while_the_database_is_down(requester, database_down):
    client = Client(raise_request_exception=False)
    client.force_login(requester)
    database_down()
    response = client.get("/changes/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert b'http-equiv="refresh"' in response.content


def test_the_portal_answers_again_once_the_database_is_back(auditor_api, monkeypatch, database_down):
    database_down()
    assert auditor_api.get("/api/v1/changes/").status_code == 503
    monkeypatch.undo()
    assert auditor_api.get("/api/v1/changes/").status_code == 200


def test_an_unknown_api_route_is_a_json_404(auditor_api):
    response = auditor_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


@pytest.mark.parametrize("idempotency", [False, True])
def test_an_oversized_body_to_a_json_endpoint_is_a_json_413(pipeline, settings, idempotency):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = '{"service": "' + "x" * (2 * 1024 * 1024) + '"}'
    extra = {"HTTP_IDEMPOTENCY_KEY": "big-1"} if idempotency else {}
    response = pipeline.generic("POST", "/api/v1/deployments/", body, content_type="application/json", **extra)
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"


@pytest.mark.parametrize("method", ["put", "delete", "patch", "trace"])
@pytest.mark.parametrize("url", ["/api/v1/changes/", "/api/v1/deployments/", "/api/v1/gates/check/"])
def test_an_unsupported_method_is_405_not_403_or_404(api_client_for, superuser, method, url):
    client = api_client_for(superuser)
    response = client.generic(method.upper(), url)
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_an_idempotency_key_whose_request_answered_500_is_released(pipeline, make_artifact, monkeypatch):
    pipeline.raise_request_exception = False
    artifact = make_artifact()
    body = {"service": "payments-api", "environment": "staging", "artifact": artifact.digest, "status": "succeeded"}

    def broken(**kwargs):
        raise RuntimeError("bug")

    with monkeypatch.context() as patch:
        patch.setattr("apps.delivery.api.services.deployment_record", broken)
        first = pipeline.post("/api/v1/deployments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-500")
    assert first.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="k-500").exists()
    retry = pipeline.post("/api/v1/deployments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-500")
    assert retry.status_code == 201, retry.content


def test_an_abandoned_idempotency_reservation_does_not_block_the_retry(pipeline, make_artifact):
    from datetime import timedelta

    from django.utils import timezone

    artifact = make_artifact()
    body = {"service": "payments-api", "environment": "staging", "artifact": artifact.digest, "status": "succeeded"}
    first = pipeline.post("/api/v1/deployments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-dead")
    assert first.status_code == 201
    # Simulate a worker killed mid-request: the reservation was never answered.
    IdempotencyRecord.objects.filter(key="k-dead").update(status_code=None, response_body=None,
                                                          created_at=timezone.now() - timedelta(minutes=10))
    retry = pipeline.post("/api/v1/deployments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-dead")
    assert retry.status_code == 201
    assert IdempotencyRecord.objects.get(key="k-dead").status_code == 201


def test_every_operation_documents_the_standard_refusals_with_the_error_body():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [(path, method, op) for path, ops in schema["paths"].items() if path.startswith("/api/v1/")
                  for method, op in ops.items() if method in {"get", "post", "put", "patch", "delete"}]
    assert operations
    for path, method, operation in operations:
        for status in ("400", "401", "403", "404", "405", "409", "429", "503"):
            assert status in operation["responses"], (path, method, status)
    error = schema["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
