"""With a real worker (CI starts one against Redis and this run's PostgreSQL database), tasks
leave the process, run, and their changes are attributed to the task."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(os.environ.get("RP_CELERY_WORKER") != "1", reason="needs a running Celery worker (RP_CELERY_WORKER=1)"),
]


@pytest.fixture
def real_broker():
    from releaseportal.celery import app

    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True


def test_a_worker_answers_over_the_broker(real_broker):
    from releaseportal.celery import ping

    assert ping.delay().get(timeout=60) == "pong"


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_against_the_database(real_broker, service_account):
    from apps.accounts.models import ApiToken
    from apps.accounts.services import api_token_create
    from apps.accounts.tasks import revoke_expired_tokens

    token, _ = api_token_create(user=service_account, actor=service_account, name="old", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert revoke_expired_tokens.delay().get(timeout=60) == 1
    token.refresh_from_db()
    assert token.revoked_at is not None
    latest = token.history.order_by("-history_id").first()
    assert latest.history_actor_label == "task:accounts.revoke_expired_tokens"
