"""The Celery app. Tasks are autodiscovered in every app's tasks.py; the beat schedule is the
union of every app's `schedules.BEAT` dict, so an app owns its own periodic work."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

app = Celery("releaseportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def collect_beat_schedule() -> dict:
    from releaseportal.extensions import app_modules

    schedule: dict = {}
    for _, module in app_modules("schedules"):
        schedule.update(getattr(module, "BEAT", {}))
    return schedule


@app.task(name="releaseportal.ping", acks_late=True)
def ping() -> str:
    """Answers when a worker is consuming: CI and operators use it to prove the queue works."""
    return "pong"


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = collect_beat_schedule()
