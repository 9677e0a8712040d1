"""The portal's own secrets at rest (webhook secrets, rollback webhook keys): encrypted with a key
that comes from the environment, never stored in clear (DESIGN.md invariant 7).

`FIELD_ENCRYPTION_KEYS` holds one or more Fernet keys, comma-separated, the first one current:
values are encrypted with the first and decrypted with any (MultiFernet), so a key is rotated by
putting the new one first and running `manage.py rotate_field_encryption`. Without it a key is
derived from SECRET_KEY (HKDF-SHA256), which also comes from the environment.

`EncryptedTextField` stores `enc:v1:<fernet token>`; Python code sees the clear text only.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:v1:"


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"release-portal", info=b"field-encryption")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


@cache
def _fernet() -> MultiFernet:
    configured = [k.strip() for k in (getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []) if k.strip()]
    try:
        keys = [Fernet(k.encode()) for k in configured] or [Fernet(_derived_key())]
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be urlsafe base64 Fernet keys") from exc
    return MultiFernet(keys)


def reset_keys() -> None:
    """Forget the cached keys (after the settings changed: tests, rotation)."""
    _fernet.cache_clear()


def encrypt(text: str) -> str:
    return PREFIX + _fernet().encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("not an encrypted value")
    try:
        return _fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the value was encrypted with a key the portal no longer has") from exc


def rotate(stored: str) -> str:
    """Re-encrypt with the current key."""
    return PREFIX + _fernet().rotate(stored[len(PREFIX):].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted before it reaches the database. Not searchable,
    not orderable: look rows up by another column."""

    description = "Text encrypted at rest (Fernet, key from the environment)"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "" or hasattr(value, "as_sql"):
            return value
        if value.startswith(PREFIX):  # already encrypted (a value read back raw, or a migration copy)
            try:
                decrypt(value)
            except ValueError:
                return encrypt(value)
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "" or not value.startswith(PREFIX):
            return value
        return decrypt(value)
