"""With a real worker (CI starts one against Redis and this run's PostgreSQL database), a chat
message leaves the process on commit and Celery's own retries (autoretry_for, retry_backoff)
bring it through a 500 and a 503."""

from __future__ import annotations

import os
import time

import pytest
from django.db import transaction

from .conftest import SECRET

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


@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_the_post_with_backoff_until_it_is_sent(real_broker, receiver, make_channel, team):
    from apps.notifications.models import ChatDelivery
    from apps.notifications.services import chat_notify

    make_channel(team, "worker", events=["rollback"])
    receiver.scripts[f"/worker/{SECRET}"] = [500, 503]
    with transaction.atomic():
        [delivery] = chat_notify(event="rollback", team_id=team.pk, target_type="delivery.deployment", target_id=1,
                                 target_repr="deployment #1", title="Rollback of payments-api", path="/delivery/")
        assert receiver.posts == []  # nothing leaves before the commit
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status != ChatDelivery.Status.QUEUED:
            break
        time.sleep(0.5)
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert len(receiver.to("worker")) == 3
