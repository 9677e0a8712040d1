"""Invariant 7 for configuration: a clear secret is refused in a baseline, kept only as a
fingerprint in an observation, and afterwards found nowhere — not in any table (history, audit
log and idempotency records included), not in the SQLite database file, not in the logs, the
error bodies or the emails."""

from __future__ import annotations

import hashlib
import logging

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.db import connection
from django.utils import timezone

from apps.environments import secrets
from apps.environments.models import ConfigBaseline, ConfigObservation, DriftFinding

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import SECRET, observe, put_baseline, setting

pytestmark = pytest.mark.django_db

AWS_KEY = "AKIAZ7QJ3KXN4PLM2R8T"  # shaped like an AWS access key id (made up)
SETTINGS = {
    "DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True, must_match=True),
    "POOL_SIZE": setting("20"),
}


def database_text() -> str:
    """Every row of every table, as text: all models (history and audit included) through the
    ORM, and on PostgreSQL every table of the schema as `row::text`."""
    chunks = []
    for model in django_apps.get_models(include_auto_created=True):
        for row in model._base_manager.values_list():
            chunks.append(repr(row))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            for (table,) in cursor.fetchall():
                cursor.execute(f'SELECT t::text FROM "{table}" t')
                chunks.extend(r[0] for r in cursor.fetchall())
    return "\n".join(chunks)


def database_bytes() -> bytes:
    """Every page of the SQLite test database (in memory), as the file image SQLite would write
    (sqlite3's serialize: it includes this connection's uncommitted pages)."""
    connection.ensure_connection()
    return connection.connection.serialize()


def assert_found_nowhere(needle: str, *, responses, caplog, tmp_path) -> None:
    for response in responses:
        assert needle not in response.content.decode(), response.content
    assert needle not in caplog.text
    for message in mail.outbox:
        assert needle not in message.subject + message.body
    assert needle not in database_text()
    if connection.vendor == "sqlite":
        image = database_bytes()
        assert b"Tune the pool" in image  # the image really holds this test's rows
        assert needle.encode() not in image


@pytest.mark.parametrize("name,entry", [
    ("DB_PASSWORD", setting(SECRET, must_match=True)),        # named like a secret
    ("DB_PASS", setting(SECRET, secret=True)),                # marked secret
    ("UPSTREAM", setting(f"https://svc:{SECRET}@api.example.com/v1")),  # a credential in a URL (detector)
    ("AWS_ID", setting(AWS_KEY)),                             # an AWS key (detector)
    ("signing_key", setting(SECRET)),                         # *_KEY, lower case
])
def test_a_clear_secret_in_a_baseline_is_refused_naming_the_key(name, entry, rita_api, config_change, caplog,
                                                                 tmp_path):
    caplog.set_level(logging.DEBUG)
    change = config_change()
    response = put_baseline(rita_api, change, {**SETTINGS, name: entry})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "secret_value_refused"
    assert list(error["fields"]) == [f"settings.{name}"]
    assert name in error["message"]
    assert not ConfigBaseline.objects.exists()
    needle = AWS_KEY if entry["value"] == AWS_KEY else SECRET
    assert_found_nowhere(needle, responses=[response], caplog=caplog, tmp_path=tmp_path)


def test_ordinary_values_are_not_taken_for_secrets():
    for key, value in [("DB_URL", "jdbc:postgresql://db:5432/payments"), ("FEATURE_NEW_CHECKOUT", "true"),
                       ("IMAGE_DIGEST", "sha256:" + "ab12" * 16), ("API_URL", "https://api.example.com/v1"),
                       ("GIT_SHA", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"), ("LOG_LEVEL", "INFO"),
                       ("TOKEN_TTL", "vault://kv/x")]:
        assert not secrets.is_clear_secret(key, value, marked_secret=False), key


def test_observed_clear_secrets_are_kept_only_as_fingerprints(rita_api, bot_api, config_change, approve, caplog,
                                                              tmp_path, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    change = config_change()
    refused = put_baseline(rita_api, change, {**SETTINGS, "API_TOKEN": setting(SECRET)})
    assert refused.status_code == 400
    assert put_baseline(rita_api, change, SETTINGS).status_code == 200
    approve(change)
    observed = {"DB_PASSWORD": SECRET, "POOL_SIZE": "20", "UPSTREAM_AUTH": f"Bearer {AWS_KEY}",
                "PUBLIC_URL": f"https://u:{SECRET}@h.example.com"}
    at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        accepted = observe(bot_api, observed, at=at, headers={"HTTP_IDEMPOTENCY_KEY": "obs-1"})
    assert accepted.status_code == 201, accepted.json()
    replay = observe(bot_api, observed, at=at, headers={"HTTP_IDEMPOTENCY_KEY": "obs-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    invalid = observe(bot_api, {"DB_PASSWORD": SECRET, "bad key!": SECRET}, runtimes={"java": SECRET + "!"})
    assert invalid.status_code == 400

    observation = ConfigObservation.objects.get()
    fingerprint = hashlib.sha256(SECRET.encode()).hexdigest()
    assert observation.settings["DB_PASSWORD"] == {"fingerprint": fingerprint}
    assert "fingerprint" in observation.settings["UPSTREAM_AUTH"]  # named like nothing: the detector caught it
    assert "fingerprint" in observation.settings["PUBLIC_URL"]
    drift = {d["key"]: d for d in accepted.json()["drift"]}
    # The baseline records no fingerprint for DB_PASSWORD: a resolved value cannot be proven to be it.
    assert drift["DB_PASSWORD"] == {"key": "DB_PASSWORD", "kind": "changed", "must_match": True,
                                    "expected": "vault://kv/payments/db#password",
                                    "observed": f"sha256:{fingerprint[:8]}…"}
    assert DriftFinding.objects.filter(key="DB_PASSWORD", observed=f"sha256:{fingerprint[:8]}…").exists()
    assert mail.outbox, "the owning team is told"
    assert_found_nowhere(SECRET, responses=[refused, accepted, replay, invalid], caplog=caplog, tmp_path=tmp_path)
    assert_found_nowhere(AWS_KEY, responses=[accepted, replay], caplog=caplog, tmp_path=tmp_path)
    assert fingerprint not in accepted.content.decode(), "only a masked prefix of a fingerprint is shown"


def test_a_recorded_fingerprint_matches_the_resolved_value(rita_api, bot_api, config_change, approve):
    fingerprint = hashlib.sha256(SECRET.encode()).hexdigest()
    change = config_change()
    put_baseline(rita_api, change, {"DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True,
                                                           must_match=True, fingerprint=fingerprint.upper())})
    approve(change)
    assert observe(bot_api, {"DB_PASSWORD": SECRET}).json()["drift"] == []
    assert observe(bot_api, {"DB_PASSWORD": "vault://kv/payments/db#password"}).json()["drift"] == []
    drift = observe(bot_api, {"DB_PASSWORD": SECRET + "-rotated"}).json()["drift"]
    assert [(d["key"], d["kind"]) for d in drift] == [("DB_PASSWORD", "changed")]
