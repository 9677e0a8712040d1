import os

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_sign_in_and_out(client, requester):
    response = client.post("/account/login/", {"username": "rita", "password": "demo"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/account/logout/")
    assert client.get("/").status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_sign_in_is_throttled_after_repeated_failures(client, requester):
    for _ in range(3):
        response = client.post("/account/login/", {"username": "rita", "password": "wrong"})
        assert response.status_code == 200 and b"Too many" not in response.content
    response = client.post("/account/login/", {"username": "rita", "password": "demo"})
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_successful_sign_in_clears_earlier_failures(client, requester):
    for _ in range(2):
        client.post("/account/login/", {"username": "rita", "password": "wrong"})
    assert client.post("/account/login/", {"username": "rita", "password": "demo"}).status_code == 302
    client.post("/account/logout/")
    for _ in range(2):
        client.post("/account/login/", {"username": "rita", "password": "wrong"})
    assert client.post("/account/login/", {"username": "rita", "password": "demo"}).status_code == 302


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok" and "broker" in body["checks"]


def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up() and os.environ.get("RP_CELERY_WORKER") != "1",
                    reason="no Redis on 127.0.0.1:6379 (CI always has one)")
def test_healthz_reaches_a_real_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/14"
    response = client.get("/healthz")
    assert response.json()["checks"]["broker"] == "ok"
    assert response.status_code == 200


def test_deploy_checks_pass_with_production_settings(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "DATABASE_REPLICA_URL")}
    env = {**env, "DEBUG": "false", "SECRET_KEY": "x" * 64 + "production-secret-value-abcdefghijklmnop",
           "ALLOWED_HOSTS": "portal.example.test", "RP_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
