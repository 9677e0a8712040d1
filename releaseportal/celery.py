"""The Celery app. Tasks are autodiscovered in every app's tasks.py; the beat schedule is the
union of every app's `schedules.BEAT` dict, so an app owns its own periodic work."""

from __future__ import annotations

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

app = Celery("releaseportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def collect_beat_schedule() -> dict:
    from django.conf import settings

    schedule: dict = {}
    for label in settings.INSTALLED_APPS:
        if not label.startswith("apps."):
            continue
        try:
            module = importlib.import_module(f"{label}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{label}.schedules":
                raise
            continue
        schedule.update(getattr(module, "BEAT", {}))
    return schedule


@app.task(name="releaseportal.ping", acks_late=True)
def ping() -> str:
    """Answers when a worker is consuming: CI and operators use it to prove the queue works."""
    return "pong"


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = collect_beat_schedule()
