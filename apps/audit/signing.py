"""The evidence signing key (Ed25519).

Production configures EVIDENCE_SIGNING_KEY_PEM or EVIDENCE_SIGNING_KEY_FILE. When neither is
set, a key is derived from SECRET_KEY so development works out of the box — every pack signed
with it says so in its parameters (`"signing_key": {"development": true}`) and the public-keys
page flags it. Every key that has signed a pack is recorded in SigningKey and stays published
after rotation, so old packs remain verifiable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

DEV_KEY_CONTEXT = b"release-portal/evidence-signing/dev-key/v1\n"


@dataclass(frozen=True)
class LoadedKey:
    private_key: Ed25519PrivateKey
    public_key_pem: str
    key_id: str
    is_development: bool

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _load_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("The evidence signing key must be an Ed25519 private key (PEM, PKCS#8).")
    return key


@lru_cache(maxsize=4)
def _load(pem: str | None, path: str | None, secret: str) -> LoadedKey:
    if pem:
        private, dev = _load_pem(pem.replace("\\n", "\n").encode()), False
    elif path:
        private, dev = _load_pem(Path(path).read_bytes()), False
    else:
        seed = hashlib.sha256(DEV_KEY_CONTEXT + secret.encode()).digest()
        private, dev = Ed25519PrivateKey.from_private_bytes(seed), True
    public = private.public_key()
    public_pem = public.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return LoadedKey(private_key=private, public_key_pem=public_pem, key_id=key_id_for(public), is_development=dev)


def current_key() -> LoadedKey:
    return _load(getattr(settings, "EVIDENCE_SIGNING_KEY_PEM", None),
                 getattr(settings, "EVIDENCE_SIGNING_KEY_FILE", None), settings.SECRET_KEY)


def publish_current_key():
    """Record the configured key as the one in use; any other key still current is retired
    (rotation) but stays listed."""
    from .models import SigningKey

    key = current_key()
    with transaction.atomic():
        record = SigningKey.objects.filter(key_id=key.key_id).first()
        if record is None:
            now = timezone.now()
            SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
            record = SigningKey.objects.create(key_id=key.key_id, public_key_pem=key.public_key_pem,
                                               is_development=key.is_development, first_used_at=now)
        elif record.retired_at is not None:
            # Rotated back to an older key: it becomes current again, the others retire.
            SigningKey.objects.exclude(pk=record.pk).filter(retired_at__isnull=True).update(retired_at=timezone.now())
            SigningKey.objects.filter(pk=record.pk).update(retired_at=None)
            record.retired_at = None
    return record
