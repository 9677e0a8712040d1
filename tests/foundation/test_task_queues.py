"""CELERY_HEAVY_QUEUE (docs/topology.md): long jobs on a queue of their own, the rest unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from releaseportal.celery import app
app.loader.import_default_modules()
router = app.amqp.router
def queue(name):
    route = router.route({}, name)
    q = route.get("queue")
    return getattr(q, "name", q)
print(json.dumps({"missing": [n for n in settings.HEAVY_TASKS if n not in app.tasks],
                  "heavy": {n: queue(n) for n in settings.HEAVY_TASKS},
                  "notify": queue("apps.changes.tasks.notify_approvers_new_request"),
                  "webhook": queue("apps.delivery.tasks.process_webhook_delivery")}))
"""


def _probe(**env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("CELERY_HEAVY_QUEUE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environ.update(env, DJANGO_SETTINGS_MODULE="releaseportal.settings", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_heavy_tasks_go_to_their_queue_when_one_is_named():
    routed = _probe(CELERY_HEAVY_QUEUE="heavy")
    assert routed["missing"] == []  # every name is a registered task (no typo routes nothing)
    assert set(routed["heavy"].values()) == {"heavy"}
    assert routed["notify"] == routed["webhook"] == "celery"


def test_one_queue_for_everything_by_default():
    routed = _probe()
    assert set(routed["heavy"].values()) == {"celery"}
    assert routed["notify"] == "celery"
