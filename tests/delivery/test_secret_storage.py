"""The portal's own secrets at rest (DESIGN.md invariant 7): webhook secrets are encrypted in the
database with FIELD_ENCRYPTION_KEYS, rotated by `manage.py rotate_field_encryption`, and a key the
portal no longer has fails closed (the delivery is refused, never a 500)."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import io
import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import TestCase

from apps.audit import encryption
from apps.audit.models import AuditEvent
from apps.delivery.models import WebhookDelivery, WebhookIntegration

pytestmark = pytest.mark.django_db

GITHUB_SECRET = "gh-Wh00k-s3cret-4f9a"
GITLAB_TOKEN = "gl-T0ken-s3cret-77c1"
KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    def use(*fernet_keys):
        settings.FIELD_ENCRYPTION_KEYS = list(fernet_keys)
        encryption.reset_keys()

    use(KEY_A)
    yield use
    encryption.reset_keys()


@pytest.fixture
def integrations(keys):
    return (WebhookIntegration.objects.create(provider="github", name="GitHub", secret=GITHUB_SECRET),
            WebhookIntegration.objects.create(provider="gitlab", name="GitLab", secret=GITLAB_TOKEN))


def stored_secrets() -> dict[int, str]:
    """The column as the database holds it (raw SQL, no field conversion)."""
    table = connection.ops.quote_name(WebhookIntegration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret FROM {table}")
        return dict(cursor.fetchall())


def database_bytes() -> bytes:
    """The SQLite test database (in memory) exactly as its file would be: every page, with the
    test's own uncommitted rows (sqlite3's serialize)."""
    connection.ensure_connection()
    return connection.connection.serialize()


def ping_github(client, secret=GITHUB_SECRET):
    body = json.dumps({"zen": "Keep it logically awesome."}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/hooks/github/", body, content_type="application/json", HTTP_X_GITHUB_EVENT="ping",
                       HTTP_X_GITHUB_DELIVERY="p-1", HTTP_X_HUB_SIGNATURE_256=signature)


def push_gitlab(client, token=GITLAB_TOKEN, uuid="g-1"):
    body = json.dumps({"object_kind": "build", "project": {"path_with_namespace": "acme/x"}}).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/hooks/gitlab/", body, content_type="application/json", HTTP_X_GITLAB_TOKEN=token,
                           HTTP_X_GITLAB_EVENT_UUID=uuid, HTTP_X_GITLAB_EVENT="Job Hook")


# --- at rest --------------------------------------------------------------------------------

def test_the_webhook_secret_is_not_in_the_database_in_clear(integrations):
    github, gitlab = integrations
    raw = stored_secrets()
    for integration, secret in ((github, GITHUB_SECRET), (gitlab, GITLAB_TOKEN)):
        assert raw[integration.pk].startswith("enc:v1:")
        assert secret not in raw[integration.pk]
        assert encryption.decrypt(raw[integration.pk]) == secret
    # Python code still sees the secret it set.
    assert WebhookIntegration.objects.get(pk=github.pk).secret == GITHUB_SECRET
    # The history table has no secret column at all.
    history_columns = {f.name for f in github.history.model._meta.concrete_fields}
    assert "secret" not in history_columns


def test_no_page_of_the_sqlite_file_holds_the_secret(integrations):
    if connection.vendor != "sqlite":
        pytest.skip("the file check reads an SQLite database; PostgreSQL is covered by the raw read")
    WebhookIntegration.objects.filter(provider="github").update(name="marker-name-in-the-file")
    data = database_bytes()
    assert b"marker-name-in-the-file" in data  # the copy really holds the table's rows
    assert GITHUB_SECRET.encode() not in data and GITLAB_TOKEN.encode() not in data


def test_signatures_still_verify_against_the_encrypted_secret(client, integrations):
    assert ping_github(client).json() == {"status": "pong"}
    assert ping_github(client, secret="not-the-secret").status_code == 401
    assert push_gitlab(client).status_code == 202
    assert push_gitlab(client, token="wrong", uuid="g-2").status_code == 401


def test_the_migration_encrypts_secrets_stored_in_clear(integrations):
    github, _ = integrations
    table = connection.ops.quote_name(WebhookIntegration._meta.db_table)
    with connection.cursor() as cursor:  # a row as the previous schema left it
        cursor.execute(f"UPDATE {table} SET secret = %s WHERE id = %s", ["legacy-clear-s3cret", github.pk])
    assert stored_secrets()[github.pk] == "legacy-clear-s3cret"
    migration = importlib.import_module("apps.delivery.migrations.0007_webhook_secret_encrypted")
    from django.apps import apps as django_apps

    migration.encrypt_existing(django_apps, None)
    raw = stored_secrets()[github.pk]
    assert raw.startswith("enc:v1:") and "legacy-clear" not in raw
    assert encryption.decrypt(raw) == "legacy-clear-s3cret"


# --- rotation -------------------------------------------------------------------------------

def test_rotation_reencrypts_every_value_with_the_current_key_and_is_audited(client, integrations, keys):
    before = stored_secrets()
    keys(KEY_B, KEY_A)  # the new key first, the old one still there to read
    call_command("rotate_field_encryption", stdout=io.StringIO())
    after = stored_secrets()
    assert set(after) == set(before) and all(after[pk] != before[pk] for pk in before)
    keys(KEY_B)  # the old key is dropped: every value opens with the new one alone
    assert {pk: encryption.decrypt(v) for pk, v in after.items()} == {
        integrations[0].pk: GITHUB_SECRET, integrations[1].pk: GITLAB_TOKEN}
    assert ping_github(client).json() == {"status": "pong"}
    event = AuditEvent.objects.get(action="audit.field_encryption_rotated")
    assert (event.actor_type, event.actor_label) == ("command", "command:rotate_field_encryption")
    assert event.details["fields"]["delivery.WebhookIntegration.secret"] == 2
    assert GITHUB_SECRET not in json.dumps(event.details) and "enc:v1:" not in json.dumps(event.details)


def test_rotation_refuses_and_writes_nothing_when_a_value_cannot_be_decrypted(integrations, keys, capsys):
    before = stored_secrets()
    keys(KEY_B)  # KEY_A is gone: nothing opens the stored values
    with pytest.raises(SystemExit) as exit_:
        call_command("rotate_field_encryption")
    assert exit_.value.code == 1
    assert "delivery.WebhookIntegration.secret" in capsys.readouterr().err
    assert stored_secrets() == before
    assert not AuditEvent.objects.filter(action="audit.field_encryption_rotated").exists()


def test_rotation_finds_the_encrypted_fields_by_introspection():
    from apps.audit.management.commands.rotate_field_encryption import encrypted_fields

    found = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}
    assert "delivery.WebhookIntegration.secret" in found
    assert not any("Historical" in label for label in found)


# --- a wrong key fails closed -----------------------------------------------------------------

def test_a_key_the_portal_no_longer_has_refuses_the_delivery_not_a_500(client, integrations, keys, caplog):
    keys(KEY_B)
    with caplog.at_level(logging.ERROR, logger="apps.delivery.hooks"):
        github = ping_github(client)
        gitlab = push_gitlab(client)
    assert github.status_code == 401 and github.json()["error"]["code"] == "invalid_signature"
    assert gitlab.status_code == 401 and gitlab.json()["error"]["code"] == "invalid_token"
    assert not WebhookDelivery.objects.exists()
    assert f"webhook integration {integrations[0].pk}" in caplog.text
    assert GITHUB_SECRET not in caplog.text and GITLAB_TOKEN not in caplog.text


def test_one_unreadable_secret_does_not_stop_the_other_integrations(client, integrations, keys):
    keys(KEY_B)
    WebhookIntegration.objects.create(provider="github", name="GitHub (new key)", secret="fresh-s3cret")
    assert ping_github(client, secret="fresh-s3cret").json() == {"status": "pong"}
    assert ping_github(client).status_code == 401
