"""Shared test set-up: personas, API clients, the browser, and database plumbing.

Personas (STYLE.md): requester, approver, cab_member, release_manager, auditor, executive,
access_admin, outsider (an account with no role and no team), and a pipeline service account.
App-specific fixtures live in tests/<app>/conftest.py."""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connection
from django.db.backends.base.operations import BaseDatabaseOperations

from apps.audit.triggers import unlock_statements

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by tests
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_original_execute_sql_flush = BaseDatabaseOperations.execute_sql_flush


def _execute_sql_flush_unlocked(self, sql_list):
    """Transactional tests flush every table between tests; the append-only triggers would
    refuse that for the audit and history tables, so the flush runs as sanctioned maintenance."""
    before, after = unlock_statements(self.connection.vendor)
    result = _original_execute_sql_flush(self, [*before, *sql_list, *after])
    _restore_migration_data(self.connection)
    return result


# The rows data migrations install (roles, the system account, change types and their stages,
# retention policies, the incident taxonomy): every database a deployment runs has them, so a
# flush between transactional tests puts them back, as they were migrated, for the tests after.
MIGRATION_DATA = [
    ("apps.accounts.migrations.0002_roles_and_system_account", "create_roles_and_system"),
    ("apps.audit.migrations.0003_default_retention_policies", "seed_defaults"),
    ("apps.audit.migrations.0005_audit_event_policy_never_purged_record_by_record", "describe"),
    ("apps.audit.migrations.0006_artifact_record_class", "seed_artifact_policies"),
    ("apps.change_types.migrations.0003_seed_change_types", "seed_change_types"),
    ("apps.incidents.migrations.0004_seed_classification_taxonomy", "seed"),
]
_migrated_apps = {}


def _restore_migration_data(conn):
    import importlib

    from django.db.migrations.loader import MigrationLoader

    if conn.settings_dict.get("TEST", {}).get("MIRROR"):
        return
    if conn.alias not in _migrated_apps:
        # The models as the migrations left them (no signals: no history rows, as in a migrate).
        _migrated_apps[conn.alias] = MigrationLoader(conn).project_state().apps
    state = _migrated_apps[conn.alias]
    for module, function in MIGRATION_DATA:
        getattr(importlib.import_module(module), function)(state, None)


BaseDatabaseOperations.execute_sql_flush = _execute_sql_flush_unlocked


# Tests that run one at a time, after the parallel run (`make test`): a real browser or a live
# server (timing-sensitive on a busy machine), and the ones that share something outside the
# test database: the Celery worker started for `test_<name>` (not a per-worker copy), the
# streaming replica, the fault cluster, a cluster-wide database role.
SERIAL_FIXTURES = {"live_server", "page", "_playwright_browser", "browser_oidc_provider"}
SERIAL_PATHS = ("tests/hostile/test_live_faults.py", "tests/foundation/test_read_replica.py",
                "tests/foundation/test_celery_worker.py", "tests/notifications/test_worker.py",
                "tests/audit/test_maintenance_role.py")
# The persona journeys are the longest tests and mostly wait on the browser (60 s timeouts, each
# file on a demo organisation of its own): they run in the parallel pass, and first, so that
# pytest-xdist (one file per worker) starts them while the rest of the suite fills the gaps.
PARALLEL_FIRST = "tests/journeys/"


def is_serial(item) -> bool:
    path = item.nodeid.split("::", 1)[0]
    if path.startswith(PARALLEL_FIRST):
        return False
    return bool(SERIAL_FIXTURES.intersection(item.fixturenames)) or path.startswith(SERIAL_PATHS)


@pytest.hookimpl(tryfirst=True)  # before `-m serial` / `-m "not serial"` selects by marker
def pytest_collection_modifyitems(config, items):
    is_postgres = connection.vendor == "postgresql"
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not is_postgres:
            item.add_marker(skip_pg)
        if is_serial(item):
            item.add_marker(pytest.mark.serial)
    items.sort(key=lambda item: not item.nodeid.startswith(PARALLEL_FIRST))  # stable: order kept otherwise


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """With DATABASE_REPLICA_URL set, the `replica` alias is a test mirror of `default`. Django
    gives a mirror only the test database's name, leaving the replica server's host and port:
    reads in a replica_reads() scope would then open a second connection, to the streaming
    replica's copy, which tests (and their rollbacks) do not see. Make the mirror whole, so the
    router recognises it as the primary; tests/foundation/test_read_replica.py points the alias
    at the real replica where it means to."""
    from django.db import connections

    if "replica" in connections.settings:
        keys = ("HOST", "PORT", "NAME", "USER", "PASSWORD")
        primary = connections["default"].settings_dict
        # The very dict every thread's connection is built from (live servers run in threads).
        mirror = connections.settings["replica"]
        mirror["TEST"].setdefault("SERVER", {k: mirror[k] for k in keys})
        for key in keys:
            mirror[key] = primary[key]
        connections["replica"].close()
    yield


@pytest.fixture(autouse=True)
def _clean_state(settings, tmp_path):
    """Mail goes to the outbox, uploads to a temporary folder, tasks run eagerly in tests."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Personas are created in almost every test; a deliberately slow hasher would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES,
                         "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(tmp_path / "archive")}}}
    from releaseportal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


def pin_clock(monkeypatch, when):
    """Pin "now" to `when` (a UTC "YYYY-MM-DD HH:MM" or an aware datetime) through `monkeypatch`:
    see the `clock` fixture. Module-wide fixtures call it with their own MonkeyPatch."""
    from datetime import UTC, datetime

    from django.apps import apps
    from django.utils import timezone

    real_now = timezone.now
    instant = datetime.fromisoformat(when).replace(tzinfo=UTC) if isinstance(when, str) else when
    offset = instant - real_now()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    # `default=timezone.now` holds the function itself, not the patched name: point those
    # fields at the pinned clock too (Field caches its default callable in _get_default).
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.default is real_now:
                monkeypatch.setattr(field, "_get_default", lambda: timezone.now())
    return instant


@pytest.fixture
def clock(monkeypatch):
    """clock("2026-12-03 09:00") pins "now" to that UTC instant for the rest of the test: every
    service, selector, history row and auto_now field reads django.utils.timezone.now, which
    then returns the instant plus the real time elapsed since the call (the clock keeps ticking,
    so rows written later in the test are still later). A test that reads "now", "this month"
    or "last month" pins the clock, or it changes meaning when the month turns."""
    return lambda when: pin_clock(monkeypatch, when)


# --- personas -----------------------------------------------------------------------------

@pytest.fixture
def roles_ready(db):
    from apps.accounts.roles import ensure_roles

    ensure_roles()


@pytest.fixture
def team(db):
    from tests.factories import TeamFactory

    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def other_team(db):
    from tests.factories import TeamFactory

    return TeamFactory(slug="identity", name="Identity")


def _person(username, roles=(), team=None, **extra):
    from tests.factories import UserFactory

    return UserFactory(username=username, roles=roles, team=team, **extra)


@pytest.fixture
def requester(roles_ready, team):
    return _person("rita", roles=("requester",), team=team, first_name="Rita")


@pytest.fixture
def implementer(roles_ready, team):
    return _person("ivan", roles=("requester",), team=team, first_name="Ivan")


@pytest.fixture
def approver(roles_ready, team):
    return _person("adam", roles=("approver",), team=team, first_name="Adam")


@pytest.fixture
def cab_member(roles_ready, other_team):
    return _person("cate", roles=("cab_member", "approver"), team=other_team, first_name="Cate")


@pytest.fixture
def release_manager(roles_ready, other_team):
    return _person("remy", roles=("release_manager",), team=other_team, first_name="Remy")


@pytest.fixture
def auditor(roles_ready):
    return _person("audra", roles=("auditor",), first_name="Audra")


@pytest.fixture
def executive(roles_ready):
    return _person("exec", roles=("executive",), first_name="Eve")


@pytest.fixture
def access_admin(roles_ready):
    return _person("gina", roles=("access_admin",), first_name="Gina")


@pytest.fixture
def outsider(roles_ready):
    """Signed in, but no role and no team: must see nothing."""
    return _person("olly", first_name="Olly")


@pytest.fixture
def service_account(roles_ready, team):
    from apps.accounts.models import User

    return _person("ci-bot", kind=User.Kind.SERVICE_ACCOUNT, owner_team=team)


@pytest.fixture
def superuser(roles_ready):
    return _person("root", is_superuser=True, is_staff=True)


# --- catalog ------------------------------------------------------------------------------

@pytest.fixture
def environments(db):
    from apps.catalog.models import Environment

    dev = Environment.objects.create(slug="dev", name="Development", order=10)
    staging = Environment.objects.create(slug="staging", name="Staging", order=20)
    prod = Environment.objects.create(slug="prod", name="Production", order=30, is_production=True)
    return {"dev": dev, "staging": staging, "prod": prod}


@pytest.fixture
def service(team):
    from tests.factories import ServiceFactory

    return ServiceFactory(slug="payments-api", name="Payments API", owner_team=team, tier=1, compliance_scopes=["sox", "pci"])


# --- API clients --------------------------------------------------------------------------

@pytest.fixture
def token_for(db):
    """token_for(user, scopes=None) -> raw bearer token."""
    from apps.accounts.services import api_token_create

    def make(user, scopes=None, expires_in_days=None):
        _, raw = api_token_create(user=user, actor=user, name="test", scopes=scopes, expires_in_days=expires_in_days)
        return raw

    return make


@pytest.fixture
def api_client_for(token_for):
    """api_client_for(user, scopes=None) -> DRF APIClient authenticated with a bearer token."""
    from rest_framework.test import APIClient

    def make(user, scopes=None):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scopes)}")
        return client

    return make


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- browser ------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def _playwright_browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("RP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (RP_REQUIRE_BROWSER=1)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright gives every launch a fresh, empty temporary profile (the --user-data-dir).
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(_playwright_browser, live_server):
    context = _playwright_browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def browser_login(page):
    """browser_login(username, password="demo") signs in through the real login form."""

    def login(username, password="demo"):
        page.goto("/account/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("domcontentloaded")
        return page

    return login
