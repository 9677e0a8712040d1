"""The persona journeys run against the seeded demo organisation, served by a live server of
their own: seeding the whole demo takes a while, so it happens once for the module, and the
tables are emptied again afterwards so later tests meet the database they expect.

pytest-django's `live_server` would flush the database after every test (it forces
transactional_db), taking the seed with it; this fixture starts Django's LiveServerThread
itself and keeps database access open for it while the journeys run."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.test.utils import override_settings


@pytest.fixture(scope="module")
def demo_server(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    from releaseportal.celery import app

    files = tmp_path_factory.mktemp("journey-files")
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
                "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                            "OPTIONS": {"location": str(files / "archive")}}}
    app.conf.task_always_eager = True
    with django_db_blocker.unblock(), override_settings(
            MEDIA_ROOT=str(files / "media"), STORAGES=storages,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        call_command("seed_demo", stdout=io.StringIO())
        # The process cache outlives the database: a file before this one (its own seed, since
        # flushed) may have cached the audit chain's anchor, which this seed's events do not match.
        cache.clear()
        # An in-memory SQLite database exists only on this connection: share it with the server thread.
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        for conn in shared.values():
            conn.inc_thread_sharing()
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.terminate()
            for conn in shared.values():
                conn.dec_thread_sharing()
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ["RP_SCREENSHOTS"]) if os.environ.get("RP_SCREENSHOTS") else (
        tmp_path_factory.mktemp("journey-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def _clean_state():
    """Replaces tests/conftest.py's per-test set-up: the journeys keep the settings demo_server
    seeded with (its media and archive folders, the outbox, the fast hasher) for the whole
    module, so a file the demo stored (a failed health check's metrics attached to its
    incident) is still there when a persona follows the link to it."""
    yield
