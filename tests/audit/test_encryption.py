"""The portal's own secrets at rest: encrypted with a key from the environment, rotatable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from apps.audit import encryption


@pytest.fixture
def keys(settings):
    def use(*fernet_keys):
        settings.FIELD_ENCRYPTION_KEYS = list(fernet_keys)
        encryption.reset_keys()

    yield use
    encryption.reset_keys()


def test_round_trip_without_clear_text(keys):
    keys(Fernet.generate_key().decode())
    stored = encryption.encrypt("hunter2-webhook")
    assert stored.startswith("enc:v1:") and "hunter2" not in stored
    assert encryption.decrypt(stored) == "hunter2-webhook"


def test_rotation_keeps_old_values_readable_and_rewrites_them_with_the_new_key(keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    stored = encryption.encrypt("s3cret")
    keys(new, old)
    assert encryption.decrypt(stored) == "s3cret"
    rotated = encryption.rotate(stored)
    keys(new)
    assert encryption.decrypt(rotated) == "s3cret"
    with pytest.raises(ValueError, match="no longer has"):
        encryption.decrypt(stored)


def test_the_field_encrypts_before_the_database_and_decrypts_after(keys):
    keys(Fernet.generate_key().decode())
    field = encryption.EncryptedTextField()
    prepared = field.get_prep_value("plain")
    assert prepared.startswith("enc:v1:") and encryption.decrypt(prepared) == "plain"
    assert field.get_prep_value(prepared) == prepared  # not encrypted twice
    assert field.from_db_value(prepared, None, None) == "plain"
    # A value that merely looks encrypted is encrypted all the same.
    forged = field.get_prep_value("enc:v1:not-a-token")
    assert forged != "enc:v1:not-a-token" and encryption.decrypt(forged) == "enc:v1:not-a-token"


def test_without_configured_keys_a_key_derived_from_secret_key_is_used(keys, settings):
    keys()
    stored = encryption.encrypt("x")
    settings.SECRET_KEY = "another"
    encryption.reset_keys()
    with pytest.raises(ValueError):
        encryption.decrypt(stored)
